//! Server streams that follow something as it changes (an event stream, an order being watched). Every
//! such stream ends the same ways: after its source's last item, at the first error, or with
//! UNAVAILABLE when the process drains, so that the client resumes on another replica. A source only
//! says what to send next; [`until_drained`] does the rest.

use std::pin::Pin;

use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

/// What a source does on one turn.
#[derive(Debug)]
pub enum Turn<T> {
    /// Send this, then ask again.
    Send(T),
    /// Send this and end the stream.
    Last(T),
    /// Nothing to send: ask again (the source has waited for a change, a poll or the drain).
    Again,
}

/// The source of a server stream.
#[tonic::async_trait]
pub trait Feed: Send + 'static {
    /// What the stream sends.
    type Item: Send + 'static;

    /// The next turn. A source that has nothing to send waits for a change before it answers
    /// [`Turn::Again`], and stops waiting when `draining` is cancelled.
    async fn turn(&mut self, draining: &CancellationToken) -> Result<Turn<Self::Item>, Status>;
}

/// A server stream as tonic serves it.
pub type FeedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

struct Following<F> {
    feed: F,
    draining: CancellationToken,
    resume: &'static str,
    ended: bool,
}

/// Serves `feed` until its last item, its first error, or the process draining; `resume` tells the
/// client how to carry on elsewhere after a drain (e.g. "resume from your last position").
pub fn until_drained<F: Feed>(
    feed: F,
    draining: CancellationToken,
    resume: &'static str,
) -> FeedStream<F::Item> {
    let following = Following {
        feed,
        draining,
        resume,
        ended: false,
    };
    Box::pin(futures::stream::unfold(
        following,
        |mut following| async move {
            if following.ended {
                return None;
            }
            let item = loop {
                if following.draining.is_cancelled() {
                    following.ended = true;
                    break Err(Status::unavailable(format!(
                        "the server is shutting down; {}",
                        following.resume
                    )));
                }
                match following.feed.turn(&following.draining).await {
                    Ok(Turn::Send(item)) => break Ok(item),
                    Ok(Turn::Last(item)) => {
                        following.ended = true;
                        break Ok(item);
                    }
                    Ok(Turn::Again) => {}
                    Err(status) => {
                        following.ended = true;
                        break Err(status);
                    }
                }
            };
            Some((item, following))
        },
    ))
}
