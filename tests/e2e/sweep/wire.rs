//! Raw gRPC: an encoded request message to any path, and everything its answer carries (code,
//! message, the details' bytes, the headers and trailers, the body, the time it took), so that two
//! answers can be compared byte for byte.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Buf as _, BufMut as _};
use futures::StreamExt as _;
use tenure_grpc::ServiceKind;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

use crate::stack::{As, Stack};

/// Passes message bytes through unchanged: the sweep encodes and decodes with prost-reflect itself.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
struct RawEncoder;

#[derive(Debug, Clone, Copy, Default)]
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len).to_vec()))
    }
}

/// Headers that legitimately differ between two identical answers (quality.md §1.6).
fn compared(key: &str) -> bool {
    !(key == "date" || key.contains("trace") || key == "grpc-status-details-bin")
}

/// One call to make.
pub(crate) struct Call {
    pub(crate) who: As,
    pub(crate) kind: ServiceKind,
    pub(crate) path: String,
    pub(crate) body: Vec<u8>,
}

/// Everything an answer carries.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) details: Vec<u8>,
    /// Headers and trailers, except the date and trace headers.
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
    pub(crate) elapsed: Duration,
}

/// One channel per listener, shared by every call to it, and the credentials of each caller.
pub(crate) struct Wire {
    channels: BTreeMap<ServiceKind, Channel>,
    /// Minting a token costs more than the call it rides on in a debug build: each caller's is
    /// reused for a couple of minutes (they live ten, service tokens five).
    credentials: Mutex<HashMap<String, (Instant, MetadataMap)>>,
}

/// How long a minted token is reused.
const REUSE: Duration = Duration::from_secs(120);

/// Calls in flight at once: enough to keep both cores and the database busy.
pub(crate) const CONCURRENCY: usize = 16;

/// How long one call may take before the sweep counts it as hung.
const PATIENCE: Duration = Duration::from_secs(30);

impl Wire {
    pub(crate) async fn connect(stack: &Stack) -> Self {
        let mut channels = BTreeMap::new();
        for kind in ServiceKind::ALL {
            channels.insert(kind, stack.channel_to(kind).await);
        }
        Self {
            channels,
            credentials: Mutex::new(HashMap::new()),
        }
    }

    fn metadata(&self, stack: &Stack, who: &As, kind: ServiceKind) -> MetadataMap {
        let key = format!("{who:?}|{kind}");
        let mut cache = self.credentials.lock().expect("credentials");
        if let Some((minted, metadata)) = cache.get(&key)
            && minted.elapsed() < REUSE
        {
            return metadata.clone();
        }
        let (metadata, _, ()) = stack.request(who, kind, ()).into_parts();
        cache.insert(key, (Instant::now(), metadata.clone()));
        metadata
    }

    /// Sends every call, [`CONCURRENCY`] at a time; the answers in the calls' order.
    pub(crate) async fn call_all(&self, stack: &Stack, calls: Vec<Call>) -> Vec<Answer> {
        futures::stream::iter(calls.into_iter().map(|call| async move {
            self.call(stack, &call.who, call.kind, &call.path, call.body)
                .await
        }))
        .buffered(CONCURRENCY)
        .collect()
        .await
    }

    /// Sends `body` to `path` on `kind`'s listener with `who`'s credentials.
    pub(crate) async fn call(
        &self,
        stack: &Stack,
        who: &As,
        kind: ServiceKind,
        path: &str,
        body: Vec<u8>,
    ) -> Answer {
        let metadata = self.metadata(stack, who, kind);
        let request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), body);
        let mut grpc = tonic::client::Grpc::new(self.channels[&kind].clone());
        let started = Instant::now();
        let path = tonic::codegen::http::uri::PathAndQuery::try_from(path.to_owned())
            .expect("a method path");
        let outcome = tokio::time::timeout(PATIENCE, async {
            grpc.ready().await.map_err(|error| {
                tonic::Status::unavailable(format!("channel not ready: {error}"))
            })?;
            grpc.unary(request, path, RawCodec).await
        })
        .await;
        let elapsed = started.elapsed();
        let (code, message, details, metadata, body) = match outcome {
            Ok(Ok(response)) => {
                let metadata = response.metadata().clone();
                (
                    Code::Ok,
                    String::new(),
                    Vec::new(),
                    metadata,
                    response.into_inner(),
                )
            }
            Ok(Err(status)) => (
                status.code(),
                status.message().to_owned(),
                status.details().to_vec(),
                status.metadata().clone(),
                Vec::new(),
            ),
            Err(_) => (
                Code::DeadlineExceeded,
                "the sweep gave up waiting".to_owned(),
                Vec::new(),
                tonic::metadata::MetadataMap::new(),
                Vec::new(),
            ),
        };
        let metadata = metadata
            .into_headers()
            .iter()
            .filter(|(key, _)| compared(key.as_str()))
            .map(|(key, value)| {
                (
                    key.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        Answer {
            code,
            message,
            details,
            metadata,
            body,
            elapsed,
        }
    }
}

impl Answer {
    /// The field violations of an INVALID_ARGUMENT answer's `google.rpc.BadRequest`.
    pub(crate) fn field_violations(&self) -> usize {
        let status = tonic::Status::with_details(
            self.code,
            self.message.clone(),
            self.details.clone().into(),
        );
        tonic_types::StatusExt::get_details_bad_request(&status)
            .map_or(0, |bad| bad.field_violations.len())
    }
}

impl Stack {
    /// A connected channel to one listener.
    pub(crate) async fn channel_to(&self, kind: ServiceKind) -> Channel {
        let url = self.owners.url(kind).expect("url");
        tonic::transport::Endpoint::from_shared(url)
            .expect("endpoint")
            .connect()
            .await
            .expect("connect")
    }
}
