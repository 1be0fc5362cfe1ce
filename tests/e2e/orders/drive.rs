//! Driving orders from the outside, as their users do: the customer places, answers and signals;
//! operations staff complete their tasks; the sandbox plays the customer's side of AWS; billing reads
//! the event stream.

use std::collections::BTreeMap;
use std::time::Duration;

use tenure_grpc::ServiceKind;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::order_events_client::OrderEventsClient;
use tenure_proto::provisioning::v1 as prov;
use tonic::Status;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::stack::{As, Stack, key};

/// What a scenario waits for at most.
const PATIENCE: Duration = Duration::from_secs(60);

impl Stack {
    pub(crate) async fn place(
        &self,
        tenant: Uuid,
        details: pb::create_order_request::Details,
    ) -> Result<pb::Order, Status> {
        self.place_with_key(tenant, &key(), details).await
    }

    pub(crate) async fn place_with_key(
        &self,
        tenant: Uuid,
        idempotency_key: &str,
        details: pb::create_order_request::Details,
    ) -> Result<pb::Order, Status> {
        Ok(self
            .orders()
            .await
            .create_order(self.request(
                &As::Customer(tenant),
                ServiceKind::Orders,
                pb::CreateOrderRequest {
                    idempotency_key: idempotency_key.to_owned(),
                    details: Some(details),
                },
            ))
            .await?
            .into_inner()
            .order
            .expect("order"))
    }

    pub(crate) async fn order(&self, who: &As, id: &str) -> Result<pb::Order, Status> {
        Ok(self
            .orders()
            .await
            .get_order(self.request(
                who,
                ServiceKind::Orders,
                pb::GetOrderRequest {
                    order_id: id.to_owned(),
                },
            ))
            .await?
            .into_inner()
            .order
            .expect("order"))
    }

    pub(crate) async fn timeline(&self, tenant: Uuid, id: &str) -> pb::GetOrderTimelineResponse {
        self.orders()
            .await
            .get_order_timeline(self.request(
                &As::Customer(tenant),
                ServiceKind::Orders,
                pb::GetOrderTimelineRequest {
                    order_id: id.to_owned(),
                },
            ))
            .await
            .expect("timeline")
            .into_inner()
    }

    /// The step states of an order's timeline, by step name.
    pub(crate) async fn step_states(
        &self,
        tenant: Uuid,
        id: &str,
    ) -> BTreeMap<String, pb::StepState> {
        self.timeline(tenant, id)
            .await
            .steps
            .into_iter()
            .map(|step| {
                let state = pb::StepState::try_from(step.state).expect("state");
                (step.name, state)
            })
            .collect()
    }

    /// Waits until `order` satisfies `done`, completing every operations task it opens meanwhile
    /// when `operations_help` is set.
    pub(crate) async fn await_order(
        &self,
        tenant: Uuid,
        id: &str,
        operations_help: bool,
        done: impl Fn(&pb::Order) -> bool,
    ) -> pb::Order {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let order = self.order(&As::Customer(tenant), id).await.expect("order");
            if done(&order) {
                return order;
            }
            if tokio::time::Instant::now() >= deadline {
                let timeline = self.timeline(tenant, id).await;
                panic!("order never got there: {order:#?}\n{:#?}", timeline.steps);
            }
            if operations_help {
                for task in self.open_tasks(&As::Operator, Some(id)).await {
                    self.complete_task(&As::Operator, &task.id, pb::TaskOutcome::Completed, "")
                        .await
                        .expect("complete task");
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn await_status(
        &self,
        tenant: Uuid,
        id: &str,
        status: pb::OrderStatus,
        operations_help: bool,
    ) -> pb::Order {
        self.await_order(tenant, id, operations_help, |order| {
            order.status == status as i32
        })
        .await
    }

    pub(crate) async fn open_tasks(&self, who: &As, order_id: Option<&str>) -> Vec<pb::Task> {
        self.orders()
            .await
            .list_tasks(self.request(
                who,
                ServiceKind::Orders,
                pb::ListTasksRequest {
                    page_size: 100,
                    page_token: String::new(),
                    state: 0,
                    order_id: order_id.unwrap_or_default().to_owned(),
                },
            ))
            .await
            .expect("tasks")
            .into_inner()
            .tasks
    }

    /// The first operations task `order_id` opens, once it has opened one.
    pub(crate) async fn first_open_task(&self, order_id: &str) -> pb::Task {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let tasks = self.open_tasks(&As::Operator, Some(order_id)).await;
            if let Some(task) = tasks.into_iter().next() {
                return task;
            }
            assert!(tokio::time::Instant::now() < deadline, "no task was opened");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn complete_task(
        &self,
        who: &As,
        task_id: &str,
        outcome: pb::TaskOutcome,
        note: &str,
    ) -> Result<pb::Task, Status> {
        Ok(self
            .orders()
            .await
            .complete_task(self.request(
                who,
                ServiceKind::Orders,
                pb::CompleteTaskRequest {
                    idempotency_key: key(),
                    task_id: task_id.to_owned(),
                    outcome: outcome as i32,
                    note: note.to_owned(),
                    survey: None,
                },
            ))
            .await?
            .into_inner()
            .task
            .expect("task"))
    }

    /// Cancels an order on `who`'s behalf.
    pub(crate) async fn cancel_order(&self, who: &As, order_id: &str) -> Result<pb::Order, Status> {
        Ok(self
            .orders()
            .await
            .cancel_order(self.request(
                who,
                ServiceKind::Orders,
                pb::CancelOrderRequest {
                    idempotency_key: key(),
                    order_id: order_id.to_owned(),
                    reason: "ordered by mistake".to_owned(),
                },
            ))
            .await?
            .into_inner()
            .order
            .expect("order"))
    }

    /// Asks the order to look at AWS again now.
    pub(crate) async fn signal(&self, tenant: Uuid, id: &str) {
        self.orders()
            .await
            .signal_order(self.request(
                &As::Customer(tenant),
                ServiceKind::Orders,
                pb::SignalOrderRequest {
                    idempotency_key: key(),
                    order_id: id.to_owned(),
                    signal: pb::OrderSignal::CheckNow as i32,
                },
            ))
            .await
            .expect("signal");
    }

    /// The handshake of the billing transfer invited for `source`, once the invitation was sent.
    pub(crate) async fn transfer_handshake(&self, tenant: Uuid, source: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let listed = self
                .provisioning()
                .await
                .list_operations(self.request(
                    &As::Orders(tenant),
                    ServiceKind::Provisioning,
                    prov::ListOperationsRequest {
                        page_size: 10,
                        page_token: String::new(),
                        aws_account_id: source.to_owned(),
                        kind: prov::OperationKind::InviteBillingTransfer as i32,
                        state: 0,
                    },
                ))
                .await
                .expect("operations")
                .into_inner();
            let handshake =
                listed
                    .operations
                    .iter()
                    .find_map(|operation| match &operation.result {
                        Some(prov::operation::Result::BillingTransfer(transfer)) => {
                            Some(transfer.handshake_id.clone())
                        }
                        _ => None,
                    });
            if let Some(handshake) = handshake.filter(|id| !id.is_empty()) {
                return handshake;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no invitation was sent"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The invitations the platform organization sent, to `target` or (empty) to anyone.
    pub(crate) async fn invitations_to(&self, tenant: Uuid, target: &str) -> Vec<prov::Handshake> {
        self.provisioning()
            .await
            .list_handshakes(self.request(
                &As::Orders(tenant),
                ServiceKind::Provisioning,
                prov::ListHandshakesRequest {
                    management_account_id: crate::stack::MANAGEMENT.to_owned(),
                    action: prov::HandshakeAction::Invite as i32,
                    target_account_id: target.to_owned(),
                },
            ))
            .await
            .expect("handshakes")
            .into_inner()
            .handshakes
    }

    /// The invitations sent to `targets` from the platform organization, once all were sent.
    pub(crate) async fn invitations(&self, tenant: Uuid, targets: &[String]) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let listed = self.invitations_to(tenant, "").await;
            let found: Vec<String> = targets
                .iter()
                .filter_map(|target| {
                    listed
                        .iter()
                        .find(|handshake| &handshake.target_account_id == target)
                        .map(|handshake| handshake.id.clone())
                })
                .collect();
            if found.len() == targets.len() {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the invitations were not all sent"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The customer answers a handshake in AWS.
    pub(crate) async fn answer_handshake(&self, handshake_id: &str, accept: bool) {
        let mut sandbox = self.sandbox().await;
        if accept {
            sandbox
                .accept_handshake(self.request(
                    &As::Operator,
                    ServiceKind::Provisioning,
                    prov::AcceptHandshakeRequest {
                        handshake_id: handshake_id.to_owned(),
                    },
                ))
                .await
                .expect("accept");
        } else {
            sandbox
                .decline_handshake(self.request(
                    &As::Operator,
                    ServiceKind::Provisioning,
                    prov::DeclineHandshakeRequest {
                        handshake_id: handshake_id.to_owned(),
                    },
                ))
                .await
                .expect("decline");
        }
    }

    /// The customer deploys the bootstrap stack in its management account.
    pub(crate) async fn deploy_customer_bootstrap(&self, management: &str) {
        self.sandbox()
            .await
            .deploy_customer_bootstrap_stack(self.request(
                &As::Operator,
                ServiceKind::Provisioning,
                prov::DeployCustomerBootstrapStackRequest {
                    aws_account_id: management.to_owned(),
                },
            ))
            .await
            .expect("bootstrap stack");
    }

    /// How many events the outbox holds that `who` may read.
    pub(crate) async fn outbox_len(&self, who: &As) -> usize {
        use sea_orm::ConnectionTrait as _;
        let db = self.sql(ServiceKind::Orders).await;
        let (sql, values): (&str, Vec<sea_orm::Value>) = match who {
            As::Customer(tenant) => (
                "SELECT count(*) AS n FROM order_event WHERE tenant_id = $1",
                vec![(*tenant).into()],
            ),
            _ => ("SELECT count(*) AS n FROM order_event", Vec::new()),
        };
        let row = db
            .conn()
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                sql,
                values,
            ))
            .await
            .expect("outbox")
            .expect("row");
        db.close().await.ok();
        usize::try_from(row.try_get::<i64>("", "n").expect("n")).expect("count")
    }

    /// Every transaction on the server that holds a transaction id, one per line: what keeps the
    /// order stream's horizon (`pg_snapshot_xmin`) where it is; and the stored rows after the
    /// stream `position` a reader stands at, so a cursor that overtook rows shows.
    pub(crate) async fn stream_horizon_report(&self, position: &str) -> String {
        use sea_orm::ConnectionTrait as _;
        let db = self.sql(ServiceKind::Orders).await;
        let mut parts = position
            .trim_start_matches('p')
            .split('.')
            .map(str::to_owned);
        let mut part = || parts.next().unwrap_or_else(|| "0".to_owned());
        let (epoch, tx, id) = (part(), part(), part());
        let rows = db
            .conn()
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT format('%s pid=%s db=%s app=%s state=%s wait=%s/%s for=%s query=%s', \
                 backend_xid, pid, datname, application_name, state, wait_event_type, wait_event, \
                 now() - xact_start, left(query, 300)) AS line \
                 FROM pg_stat_activity WHERE backend_xid IS NOT NULL \
                 UNION ALL SELECT format('prepared %s %s', transaction, gid) FROM pg_prepared_xacts \
                 UNION ALL SELECT format('cursor %s; snapshot %s; after it %s rows, %s below xmin, \
                 lowest %s, epochs %s', $4, pg_current_snapshot(), count(*), \
                 count(*) FILTER (WHERE tx < pg_snapshot_xmin(pg_current_snapshot())), \
                 min(tx::text::numeric), string_agg(DISTINCT epoch::text, ',')) FROM order_event \
                 WHERE (epoch, tx, id) > ($1::text::int, $2::text::xid8, $3::text::bigint)",
                vec![epoch.into(), tx.into(), id.into(), position.into()],
            ))
            .await
            .expect("pg_stat_activity");
        db.close().await.ok();
        rows.iter()
            .map(|row| row.try_get::<String>("", "line").expect("line"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every event of the order stream, from the beginning, as `who` reads it.
    pub(crate) async fn order_stream(&self, who: &As) -> Vec<pb::OrderEvent> {
        let written = self.outbox_len(who).await;
        let stream = self
            .subscribe_from_beginning(self.order_events().await, who, 0)
            .await;
        read_at_least(self, stream, written).await
    }

    /// A subscription to the whole order stream as `who`, through `client`, `max_batch` events a
    /// message (0: the server's default).
    pub(crate) async fn subscribe_from_beginning(
        &self,
        mut client: OrderEventsClient<Channel>,
        who: &As,
        max_batch: u32,
    ) -> tonic::Streaming<pb::SubscribeResponse> {
        client
            .subscribe(self.request(
                who,
                ServiceKind::Orders,
                pb::SubscribeRequest {
                    start: Some(pb::subscribe_request::Start::FromBeginning(true)),
                    types: Vec::new(),
                    order_ids: Vec::new(),
                    max_batch,
                },
            ))
            .await
            .expect("subscribe")
            .into_inner()
    }
}

/// Reads `stream` until it is caught up and has delivered at least `written` events. A stream shows
/// an event only once every older transaction on the server has ended, and other tests'
/// transactions share the server, so being caught up alone does not mean everything was read. A
/// stream that stays short names the transactions holding it back, so a failure can be explained.
pub(crate) async fn read_at_least(
    stack: &Stack,
    mut stream: tonic::Streaming<pb::SubscribeResponse>,
    written: usize,
) -> Vec<pb::OrderEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let mut events = Vec::new();
    loop {
        let batch = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("a batch in time")
            .expect("stream")
            .expect("open");
        events.extend(batch.events);
        if batch.caught_up && events.len() >= written {
            return events;
        }
        if tokio::time::Instant::now() >= deadline {
            let holders = stack.stream_horizon_report(&batch.position).await;
            panic!(
                "the stream delivered {} of {written} events; transactions with an id on the \
                 server, and the rows after the cursor:\n{holders}",
                events.len()
            );
        }
    }
}

/// A random 12-digit account id that no other test uses.
pub(crate) fn fresh_account() -> String {
    let digits = Uuid::new_v4().as_u128() % 1_000_000_000_000;
    format!("{digits:012}")
}

/// Every acknowledgement a closure of a member account needs.
pub(crate) fn close_member_acknowledgements() -> Vec<i32> {
    use tenure_proto::common::v1::Acknowledgement as Ack;
    [
        Ack::Backup,
        Ack::OutstandingBill,
        Ack::Commitments,
        Ack::Resources,
        Ack::EmailNotReusable,
        Ack::ReopenWindow,
    ]
    .into_iter()
    .map(|ack| ack as i32)
    .collect()
}

impl Stack {
    /// Orders that hold a tenant's personal data: a new account with a root email, a name and a
    /// support contact, run to completed; and a second one cancelled with a reason. Returns the
    /// personal values they hold.
    pub(crate) async fn order_with_personal_data(&self, tenant: Uuid, tag: &str) -> Vec<String> {
        let unique = &Uuid::new_v4().simple().to_string()[..8];
        let email = format!("order-{tag}-{unique}@example.com");
        let name = format!("Order {tag} {unique}");
        let contact = format!("Grace Hopper {tag} {unique}");
        let order = self
            .place(
                tenant,
                pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
                    root_email: email.clone(),
                    account_name: name.clone(),
                    support_contact: contact.clone(),
                }),
            )
            .await
            .expect("place");
        self.await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
            .await;
        let cancelled_email = format!("cancelled-{tag}-{unique}@example.com");
        let second = self
            .place(
                tenant,
                pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
                    root_email: cancelled_email.clone(),
                    account_name: format!("Cancelled {unique}"),
                    support_contact: String::new(),
                }),
            )
            .await
            .expect("place");
        self.cancel_order(&As::Customer(tenant), &second.id)
            .await
            .expect("cancel");
        self.await_status(tenant, &second.id, pb::OrderStatus::Cancelled, false)
            .await;
        vec![email, name, contact, cancelled_email]
    }
}
