//! GetOrder, ListOrders, GetOrderTimeline and WatchOrder: reads narrowed to the caller's reach, so
//! another tenant's order answers exactly like a missing one.

use std::time::Duration;

use tenure_domain::{Problems, parse_id};
use tenure_grpc::StreamSlot;
use tenure_grpc::feed::{Feed, FeedStream, Turn, until_drained};
use tenure_grpc::paging::Page;
use tenure_proto::orders::v1 as pb;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use uuid::Uuid;

use crate::api::StreamCaps;
use crate::api::context::{Call, Orders, checked, finish};
use crate::api::convert;
use crate::domain::OrdersError;
use crate::domain::records::{OrderFilter, Reach};

/// How often a watch looks for changes another replica made, which cannot wake it.
const WATCH_POLL: Duration = Duration::from_millis(500);

/// A stream of order updates.
pub(crate) type WatchStream = FeedStream<pb::WatchOrderResponse>;

/// The order a request names; the call's span records it, so its trace names the order.
pub(crate) fn order_id(problems: &mut Problems, raw: &str) -> Option<Uuid> {
    let id = problems.check("order_id", parse_id(raw))?;
    record_order(id);
    Some(id)
}

/// Names `order` on the call's span, for calls that learn their order only from what they read (a
/// task, a saga), so that a search by the order finds operators' actions too.
pub(crate) fn record_order(order: Uuid) {
    tracing::Span::current().record("tenure.order_id", order.to_string());
}

impl Orders {
    pub(crate) async fn get_order(
        &self,
        call: &Call,
        request: pb::GetOrderRequest,
    ) -> Result<pb::GetOrderResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        finish(problems, || ())?;
        let id = checked(id)?;
        let record = self.order(call, id).await?;
        Ok(pb::GetOrderResponse {
            order: Some(convert::order(&self.registry, &record)?),
        })
    }

    pub(crate) async fn list_orders(
        &self,
        call: &Call,
        request: pb::ListOrdersRequest,
    ) -> Result<pb::ListOrdersResponse, OrdersError> {
        let mut problems = Problems::new();
        let tenant = if request.tenant_id.is_empty() {
            Some(None)
        } else {
            problems
                .check("tenant_id", parse_id(&request.tenant_id))
                .map(Some)
        };
        let mut kinds = Vec::new();
        for (index, raw) in request.kinds.iter().enumerate() {
            kinds.extend(problems.check(format!("kinds[{index}]"), convert::order_kind_from(*raw)));
        }
        let mut statuses = Vec::new();
        for (index, raw) in request.statuses.iter().enumerate() {
            statuses.extend(problems.check(
                format!("statuses[{index}]"),
                convert::order_status_from(*raw),
            ));
        }
        let aws_account_id = if request.aws_account_id.is_empty() {
            Some(None)
        } else {
            problems
                .check(
                    "aws_account_id",
                    tenure_domain::AwsAccountId::parse(&request.aws_account_id),
                )
                .map(Some)
        };
        let now = self.now();
        let created_after = convert::request_instant(
            &mut problems,
            "created_after",
            request.created_after.as_ref(),
            now,
        );
        let created_before = convert::request_instant(
            &mut problems,
            "created_before",
            request.created_before.as_ref(),
            now,
        );
        // The caller's reach binds the token: another tenant's token must not resume this query (S5).
        let reach = call.reach()?;
        let scope = format!(
            "{reach:?}|{}|{:?}|{:?}|{}|{:?}|{:?}",
            request.tenant_id,
            request.kinds,
            request.statuses,
            request.aws_account_id,
            request.created_after,
            request.created_before
        );
        let page = Page::of_request(&mut problems, call.method, &request, scope);
        finish(problems, || ())?;
        let page = checked(page)?;
        let filter = OrderFilter {
            tenant: checked(tenant)?,
            kinds,
            statuses,
            aws_account_id: checked(aws_account_id)?,
            created_after: checked(created_after)?,
            created_before: checked(created_before)?,
            ..OrderFilter::default()
        };
        let rows = self
            .orders(call, filter, page.request.offset, page.fetch_limit())
            .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(pb::ListOrdersResponse {
            orders: rows
                .iter()
                .map(|record| convert::order(&self.registry, record))
                .collect::<Result<_, _>>()?,
            next_page_token,
        })
    }

    /// The order and its steps, read in one transaction.
    pub(crate) async fn timeline_of(
        &self,
        reach: Reach,
        id: Uuid,
    ) -> Result<(pb::Order, Vec<pb::OrderStep>, bool), OrdersError> {
        let history = self.history(reach, id).await?;
        let timeline = convert::timeline(
            &history.definition,
            &history.record,
            &history.steps,
            &history.attempts,
            &history.tasks,
        );
        Ok((
            convert::order(&self.registry, &history.record)?,
            timeline,
            history.compensating,
        ))
    }

    pub(crate) async fn get_order_timeline(
        &self,
        call: &Call,
        request: pb::GetOrderTimelineRequest,
    ) -> Result<pb::GetOrderTimelineResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        finish(problems, || ())?;
        let (order, steps, compensating) = self.timeline_of(call.reach()?, checked(id)?).await?;
        Ok(pb::GetOrderTimelineResponse {
            order: Some(order),
            steps,
            compensating,
        })
    }

    /// The order and its timeline now, then again each time either changes, until the order ends
    /// (its last state is sent) or the server drains (UNAVAILABLE, so the client watches again
    /// elsewhere).
    pub(crate) async fn watch_order(
        &self,
        call: &Call,
        request: pb::WatchOrderRequest,
        streams: &StreamCaps,
        draining: CancellationToken,
    ) -> Result<WatchStream, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        finish(problems, || ())?;
        let id = checked(id)?;
        let reach = call.reach()?;
        // Held by the stream until it ends however it ends; refused before any read when the cap is
        // reached.
        let slot = streams.watch(&call.caller)?;
        // Fails here, before the stream starts, for an order the caller cannot see.
        let first = self.timeline_of(reach, id).await?;
        let watch = Watch {
            _slot: slot,
            app: self.clone(),
            reach,
            id,
            last: None,
            pending: Some(first),
        };
        Ok(until_drained(watch, draining, "watch the order again"))
    }
}

struct Watch {
    /// This stream's place under the tenant's cap of open watches.
    _slot: StreamSlot,
    app: Orders,
    reach: Reach,
    id: Uuid,
    last: Option<(pb::Order, Vec<pb::OrderStep>)>,
    pending: Option<(pb::Order, Vec<pb::OrderStep>, bool)>,
}

#[tonic::async_trait]
impl Feed for Watch {
    type Item = pb::WatchOrderResponse;

    /// The order and its timeline whenever either changed, the last time once the order ended.
    async fn turn(
        &mut self,
        draining: &CancellationToken,
    ) -> Result<Turn<pb::WatchOrderResponse>, Status> {
        let committed = self.app.engine.next_events_committed();
        let current = match self.pending.take() {
            Some(current) => current,
            None => self.app.timeline_of(self.reach, self.id).await?,
        };
        let (order, steps, _) = current;
        let changed = self
            .last
            .as_ref()
            .is_none_or(|(last_order, last_steps)| last_order != &order || last_steps != &steps);
        if changed {
            let finished = order.finished_at.is_some();
            self.last = Some((order.clone(), steps.clone()));
            let response = pb::WatchOrderResponse {
                order: Some(order),
                steps,
            };
            return Ok(if finished {
                Turn::Last(response)
            } else {
                Turn::Send(response)
            });
        }
        tokio::select! {
            () = committed => {}
            () = tokio::time::sleep(WATCH_POLL) => {}
            () = draining.cancelled() => {}
        }
        Ok(Turn::Again)
    }
}
