//! The purge API on its own: validation, idempotency, tenant isolation, legal-hold permissions, the
//! expedite rules, the event stream's resumption, and the column registry (G1).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tenure_domain::{Clock as _, SharedClock, SystemClock};
use tenure_grpc::{Role, ServiceKind};
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_events_client::PurgeEventsClient;
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use tenure_proto::purge::v1::purge_service_client::PurgeServiceClient;
use tenure_testkit::grpc::Channel;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::TEST_RECEIPT_KEY;

/// The service alone, its worker slow enough that a test decides when purges run.
pub(crate) struct Served {
    pub(crate) host: tenure_testkit::TestHost,
    pub(crate) channel: Channel,
    database: tenure_testkit::TestDatabase,
    _sqlite: Option<tenure_testkit::TestSqlite>,
}

pub(crate) async fn serve(worker_interval: Duration) -> Served {
    serve_on(worker_interval, false).await
}

/// Like [`serve`], on PostgreSQL or, with `sqlite`, on the embedded database of `tenure up`.
async fn serve_on(worker_interval: Duration, sqlite: bool) -> Served {
    serve_with(worker_interval, sqlite, Arc::new(SystemClock)).await
}

/// Like [`serve_on`], on the business clock `clock` (a test moves a `ManualClock` past due times).
pub(crate) async fn serve_with(
    worker_interval: Duration,
    sqlite: bool,
    clock: SharedClock,
) -> Served {
    let database = tenure_testkit::TestDatabase::create()
        .await
        .expect("test database");
    let embedded = sqlite.then(|| tenure_testkit::TestSqlite::create().expect("sqlite"));
    let mut settings = tenure_data_purge::DataPurgeSettings {
        database: match &embedded {
            Some(file) => file.settings("purge"),
            None => database.settings("purge"),
        },
        ..tenure_data_purge::DataPurgeSettings::default()
    };
    settings.receipts.signing_key_file = Some(TEST_RECEIPT_KEY.into());
    settings.worker.interval_ms = u64::try_from(worker_interval.as_millis()).expect("ms");
    tenure_data_purge::migrate(&settings)
        .await
        .expect("migrations");
    let host = tenure_testkit::TestHost::new().expect("host");
    let mut builder = host.builder(ServiceKind::DataPurge);
    let deps = tenure_data_purge::DataPurgeDeps {
        clock,
        ..tenure_data_purge::DataPurgeDeps::default()
    };
    tenure_data_purge::DataPurgeApp::build_with(&settings, deps)
        .await
        .expect("build")
        .register(&mut builder);
    let address = host.serve(builder).await.expect("serve").local_addr();
    let channel = tenure_testkit::grpc::channel(address)
        .await
        .expect("channel");
    Served {
        host,
        channel,
        database,
        _sqlite: embedded,
    }
}

/// The tenant a service scheduling `request` acts for: the scope's, as orders and accounts name it;
/// any tenant when the scope is malformed (the refusal does not depend on it).
fn acting_for(request: &pb::SchedulePurgeRequest) -> Uuid {
    request
        .scope
        .as_ref()
        .and_then(|scope| scope.tenant_id.parse().ok())
        .unwrap_or_else(Uuid::new_v4)
}

/// Who calls.
pub(crate) enum As {
    Operator,
    LegalOperator,
    Customer(Uuid),
    Billing,
    /// The orders service, acting for a tenant as every service call names one.
    Orders(Uuid),
    /// The accounts service, acting for a tenant.
    Accounts(Uuid),
}

impl Served {
    pub(crate) fn request<T>(&self, who: &As, message: T) -> tonic::Request<T> {
        let acting_for = match who {
            As::Orders(tenant) | As::Accounts(tenant) => Some(*tenant),
            _ => None,
        };
        let token = match who {
            As::Operator => self.host.token(Role::Operator, None),
            As::LegalOperator => self
                .host
                .authority()
                .user_token(
                    Role::Operator,
                    "legal-1",
                    None,
                    &["legal_hold"],
                    Duration::from_secs(600),
                )
                .expect("token"),
            As::Customer(tenant) => self.host.token(Role::Customer, Some(*tenant)),
            As::Billing => self.host.token(Role::Billing, None),
            As::Orders(_) => self
                .host
                .service_token(ServiceKind::Orders, ServiceKind::DataPurge),
            As::Accounts(_) => self
                .host
                .service_token(ServiceKind::Accounts, ServiceKind::DataPurge),
        };
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        if let Some(tenant) = acting_for {
            request.metadata_mut().insert(
                "x-tenure-tenant",
                tenant.to_string().parse().expect("tenant"),
            );
        }
        request
    }

    pub(crate) fn purges(&self) -> PurgeServiceClient<Channel> {
        PurgeServiceClient::new(self.channel.clone())
    }

    fn events(&self) -> PurgeEventsClient<Channel> {
        PurgeEventsClient::new(self.channel.clone())
    }

    pub(crate) async fn schedule(
        &self,
        request: pb::SchedulePurgeRequest,
    ) -> Result<pb::Purge, tonic::Status> {
        Ok(self
            .purges()
            .schedule_purge(self.request(&As::Orders(acting_for(&request)), request))
            .await?
            .into_inner()
            .purge
            .expect("purge"))
    }

    /// The state of purge `id`, as an operator reads it.
    pub(crate) async fn state(&self, id: &str) -> i32 {
        self.get(&As::Operator, id).await.expect("purge").state
    }

    pub(crate) async fn get(&self, who: &As, id: &str) -> Result<pb::Purge, tonic::Status> {
        Ok(self
            .purges()
            .get_purge(self.request(
                who,
                pb::GetPurgeRequest {
                    purge_id: id.to_owned(),
                },
            ))
            .await?
            .into_inner()
            .purge
            .expect("purge"))
    }

    async fn list(&self, who: &As, tenant: &str) -> Result<Vec<pb::Purge>, tonic::Status> {
        Ok(self
            .purges()
            .list_purges(self.request(
                who,
                pb::ListPurgesRequest {
                    page_size: 0,
                    page_token: String::new(),
                    states: Vec::new(),
                    aws_account_id: String::new(),
                    tenant_id: tenant.to_owned(),
                },
            ))
            .await?
            .into_inner()
            .purges)
    }
}

pub(crate) fn key() -> String {
    format!("test-{}", Uuid::new_v4().simple())
}

/// An operator's expedite of `purge_id` under `ticket`, as the customer asked support.
pub(crate) fn expedite(purge_id: &str, ticket: &str) -> pb::ExpeditePurgeRequest {
    pb::ExpeditePurgeRequest {
        idempotency_key: key(),
        purge_id: purge_id.to_owned(),
        ticket: ticket.to_owned(),
        reason: "the customer asked support for deletion".to_owned(),
    }
}

pub(crate) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

pub(crate) fn account_purge(tenant: Uuid, aws_account_id: &str) -> pb::SchedulePurgeRequest {
    pb::SchedulePurgeRequest {
        idempotency_key: key(),
        scope: Some(pb::PurgeScope {
            kind: pb::ScopeKind::Account as i32,
            tenant_id: tenant.to_string(),
            aws_account_id: aws_account_id.to_owned(),
        }),
        reason: pb::PurgeReason::AccountRemoved as i32,
        triggered_at: None,
        ticket: String::new(),
    }
}

pub(crate) fn violated_fields(status: &tonic::Status) -> BTreeSet<String> {
    let details = status.get_error_details();
    let requests = details.bad_request().into_iter();
    requests
        .flat_map(|bad| &bad.field_violations)
        .map(|violation| violation.field.clone())
        .collect()
}

pub(crate) const SLOW: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn bad_requests_name_every_field_at_fault_and_store_nothing() {
    let served = serve(SLOW).await;
    let refused = served
        .schedule(pb::SchedulePurgeRequest {
            idempotency_key: "short".to_owned(),
            scope: Some(pb::PurgeScope {
                kind: pb::ScopeKind::Account as i32,
                tenant_id: "not-a-uuid".to_owned(),
                aws_account_id: "12345".to_owned(),
            }),
            reason: pb::PurgeReason::Unspecified as i32,
            triggered_at: Some(timestamp(SystemClock.now() + chrono::Duration::days(401))),
            ticket: "nope".to_owned(),
        })
        .await
        .expect_err("invalid");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        [
            "idempotency_key",
            "reason",
            "scope.aws_account_id",
            "scope.tenant_id",
            "ticket",
            "triggered_at",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
    let mismatch = served
        .schedule(pb::SchedulePurgeRequest {
            reason: pb::PurgeReason::TenantUnsubscribed as i32,
            ..account_purge(Uuid::new_v4(), "123456789012")
        })
        .await
        .expect_err("an unsubscribe purges a tenant");
    assert_eq!(violated_fields(&mismatch), ["reason".to_owned()].into());
    assert!(
        served
            .list(&As::Operator, "")
            .await
            .expect("list")
            .is_empty(),
        "nothing was stored"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn scheduling_is_idempotent_and_one_purge_is_pending_per_subject() {
    let served = serve(SLOW).await;
    let tenant = Uuid::new_v4();
    let request = account_purge(tenant, "123456789012");
    let first = served.schedule(request.clone()).await.expect("schedule");
    let replay = served.schedule(request.clone()).await.expect("replay");
    assert_eq!(first, replay, "a replay answers with the same purge");
    let again = served
        .schedule(account_purge(tenant, "123456789012"))
        .await
        .expect("another key, same subject");
    assert_eq!(again.id, first.id, "the pending purge of the subject");
    let reused = served
        .schedule(pb::SchedulePurgeRequest {
            reason: pb::PurgeReason::SupportRequest as i32,
            ticket: "OPS-1".to_owned(),
            ..request
        })
        .await
        .expect_err("same key, other request");
    assert_eq!(reused.code(), Code::FailedPrecondition);
    let other_account = served
        .schedule(account_purge(tenant, "210987654321"))
        .await
        .expect("another account");
    assert_ne!(other_account.id, first.id);
    assert_eq!(served.list(&As::Operator, "").await.expect("list").len(), 2);
    served.host.shutdown().await;
}

#[tokio::test]
async fn customers_see_only_their_own_tenants_purges_and_receipts() {
    let served = serve(SLOW).await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    let own = served
        .schedule(account_purge(mine, "123456789012"))
        .await
        .expect("mine");
    let foreign = served
        .schedule(account_purge(theirs, "210987654321"))
        .await
        .expect("theirs");
    let customer = As::Customer(mine);
    served.get(&customer, &own.id).await.expect("own purge");
    let other = served
        .get(&customer, &foreign.id)
        .await
        .expect_err("another tenant's purge");
    let random = served
        .get(&customer, &Uuid::new_v4().to_string())
        .await
        .expect_err("a random id");
    assert_eq!(other.code(), Code::NotFound);
    assert_eq!(
        (other.code(), other.message()),
        (random.code(), random.message()),
        "another tenant's id answers like a missing one"
    );
    let listed = served.list(&customer, "").await.expect("list");
    let listed_ids: Vec<&str> = listed.iter().map(|purge| purge.id.as_str()).collect();
    assert_eq!(listed_ids, [own.id.as_str()]);
    let named = served
        .list(&customer, &theirs.to_string())
        .await
        .expect_err("naming another tenant");
    assert_eq!(named.code(), Code::PermissionDenied);
    let receipt = served
        .purges()
        .get_receipt(served.request(
            &customer,
            pb::GetReceiptRequest {
                purge_id: foreign.id.clone(),
            },
        ))
        .await
        .expect_err("another tenant's receipt");
    assert_eq!(receipt.code(), Code::NotFound);
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_expedite_needs_a_ticket_and_never_moves_a_due_purge() {
    let served = serve(SLOW).await;
    let tenant = Uuid::new_v4();
    let overdue = served
        .schedule(pb::SchedulePurgeRequest {
            triggered_at: Some(timestamp(SystemClock.now() - chrono::Duration::days(40))),
            ..account_purge(tenant, "123456789012")
        })
        .await
        .expect("schedule");
    let postponing = served
        .purges()
        .expedite_purge(served.request(&As::Operator, expedite(&overdue.id, "OPS-9")))
        .await
        .expect_err("already due");
    assert_eq!(postponing.code(), Code::InvalidArgument);
    assert_eq!(
        postponing
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone()),
        Some("TNR504".to_owned())
    );
    let fresh = served
        .schedule(account_purge(tenant, "210987654321"))
        .await
        .expect("schedule");
    let no_ticket = served
        .purges()
        .expedite_purge(served.request(&As::Operator, expedite(&fresh.id, "")))
        .await
        .expect_err("ticket required");
    assert_eq!(violated_fields(&no_ticket), ["ticket".to_owned()].into());
    let customer = served
        .purges()
        .expedite_purge(served.request(&As::Customer(tenant), expedite(&fresh.id, "OPS-9")))
        .await
        .expect_err("operators only");
    assert_eq!(customer.code(), Code::PermissionDenied);
    let moved = served
        .purges()
        .expedite_purge(served.request(&As::Operator, expedite(&fresh.id, "OPS-9")))
        .await
        .expect("expedite")
        .into_inner()
        .purge
        .expect("purge");
    assert_eq!(moved.state, pb::PurgeState::Due as i32);
    assert!(moved.due_at.expect("due").seconds <= SystemClock.now().timestamp());
    served.host.shutdown().await;
}

#[tokio::test]
async fn legal_holds_need_their_permission_and_a_release_happens_once() {
    let served = serve(SLOW).await;
    let tenant = Uuid::new_v4();
    let purge = served
        .schedule(account_purge(tenant, "123456789012"))
        .await
        .expect("schedule");
    let hold = || pb::SetLegalHoldRequest {
        idempotency_key: key(),
        scope: Some(pb::PurgeScope {
            kind: pb::ScopeKind::Account as i32,
            tenant_id: tenant.to_string(),
            aws_account_id: "123456789012".to_owned(),
        }),
        reason: "preserve evidence for an audit".to_owned(),
        ticket: "LEGAL-1".to_owned(),
    };
    let denied = served
        .purges()
        .set_legal_hold(served.request(&As::Operator, hold()))
        .await
        .expect_err("no legal_hold permission");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let placed = served
        .purges()
        .set_legal_hold(served.request(&As::LegalOperator, hold()))
        .await
        .expect("hold")
        .into_inner()
        .hold
        .expect("hold");
    assert_eq!(
        placed
            .placed_by
            .as_ref()
            .map(|actor| actor.subject.as_str()),
        Some("legal-1"),
        "the hold names who placed it"
    );
    assert_eq!(served.state(&purge.id).await, pb::PurgeState::Held as i32);
    // A purge scheduled under the hold starts held.
    let later = served
        .schedule(pb::SchedulePurgeRequest {
            reason: pb::PurgeReason::SupportRequest as i32,
            ticket: "OPS-5".to_owned(),
            ..account_purge(tenant, "123456789012")
        })
        .await
        .expect("pending one returned");
    assert_eq!(later.id, purge.id);
    let release = || pb::ReleaseLegalHoldRequest {
        idempotency_key: key(),
        hold_id: placed.id.clone(),
        reason: "the audit has been closed".to_owned(),
        ticket: "LEGAL-2".to_owned(),
    };
    served
        .purges()
        .release_legal_hold(served.request(&As::LegalOperator, release()))
        .await
        .expect("release");
    assert_eq!(
        served.state(&purge.id).await,
        pb::PurgeState::Scheduled as i32
    );
    let twice = served
        .purges()
        .release_legal_hold(served.request(&As::LegalOperator, release()))
        .await
        .expect_err("released already");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let holds = served
        .purges()
        .list_legal_holds(served.request(
            &As::Operator,
            pb::ListLegalHoldsRequest {
                page_size: 0,
                page_token: String::new(),
                active_only: false,
            },
        ))
        .await
        .expect("holds")
        .into_inner()
        .holds;
    assert_eq!(holds.len(), 1);
    assert!(holds[0].released_at.is_some());
    served.host.shutdown().await;
}

#[tokio::test]
async fn the_event_stream_resumes_after_a_position_without_gaps_or_duplicates() {
    let served = serve(SLOW).await;
    let tenant = Uuid::new_v4();
    let mut scheduled = Vec::new();
    for account in ["111111111111", "222222222222", "333333333333"] {
        scheduled.push(
            served
                .schedule(account_purge(tenant, account))
                .await
                .expect("schedule")
                .id,
        );
    }
    let subscribe = |start: pb::subscribe_request::Start| pb::SubscribeRequest {
        start: Some(start),
        max_batch: 2,
    };
    let mut stream = served
        .events()
        .subscribe(served.request(
            &As::Billing,
            subscribe(pb::subscribe_request::Start::FromBeginning(true)),
        ))
        .await
        .expect("subscribe")
        .into_inner();
    let first = stream.message().await.expect("batch").expect("open");
    assert_eq!(first.events.len(), 2);
    assert!(!first.caught_up);
    drop(stream);

    // Reconnect after the first batch: the rest, nothing twice.
    let mut resumed = served
        .events()
        .subscribe(served.request(
            &As::Billing,
            subscribe(pb::subscribe_request::Start::After(first.position.clone())),
        ))
        .await
        .expect("resume")
        .into_inner();
    let rest = resumed.message().await.expect("batch").expect("open");
    assert!(rest.caught_up);
    let delivered: Vec<pb::PurgeEvent> = first.events.into_iter().chain(rest.events).collect();
    let purge_ids: Vec<&str> = delivered
        .iter()
        .map(|event| event.purge_id.as_str())
        .collect();
    assert_eq!(
        purge_ids,
        scheduled.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let positions: Vec<u64> = delivered
        .iter()
        .map(|event| event.position.parse().expect("position"))
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{positions:?}"
    );
    assert!(
        delivered
            .iter()
            .all(|event| event.r#type == "purge.scheduled")
    );

    // A new event reaches the open stream.
    let fourth = served
        .schedule(account_purge(tenant, "444444444444"))
        .await
        .expect("schedule");
    let live = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let batch = resumed.message().await.expect("batch").expect("open");
            if let Some(event) = batch.events.first() {
                return event.clone();
            }
        }
    })
    .await
    .expect("delivered while subscribed");
    assert_eq!(live.purge_id, fourth.id);

    let customer = served
        .events()
        .subscribe(served.request(
            &As::Customer(tenant),
            subscribe(pb::subscribe_request::Start::FromLatest(true)),
        ))
        .await
        .expect_err("billing and operators only");
    assert_eq!(customer.code(), Code::PermissionDenied);
    let bad = served
        .events()
        .subscribe(served.request(
            &As::Billing,
            subscribe(pb::subscribe_request::Start::After("x".to_owned())),
        ))
        .await
        .expect_err("not a position");
    assert_eq!(violated_fields(&bad), ["after".to_owned()].into());
    served.host.shutdown().await;
}

#[tokio::test]
async fn every_persisted_column_is_registered_with_a_data_class() {
    let served = serve(SLOW).await;
    let described = PurgeParticipantClient::new(served.channel.clone())
        .describe_data_classes(tonic::Request::from_parts(
            {
                let mut metadata = tonic::metadata::MetadataMap::new();
                let token = served
                    .host
                    .service_token(ServiceKind::DataPurge, ServiceKind::DataPurge);
                metadata.insert(
                    "authorization",
                    format!("Bearer {token}").parse().expect("header"),
                );
                metadata
            },
            tonic::Extensions::default(),
            pb::DescribeDataClassesRequest {},
        ))
        .await
        .expect("describe")
        .into_inner();
    assert_eq!(described.service, "data-purge");
    let mut registered = BTreeSet::new();
    for column in &described.columns {
        assert_ne!(column.data_class, 0, "{column:?} has no data class");
        registered.insert((column.table.clone(), column.column.clone()));
    }
    let persisted = served.database.columns("purge").await.expect("catalogue");
    assert_eq!(
        persisted, registered,
        "G1: no unregistered column, no stale one"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn on_sqlite_a_purge_runs_to_a_signed_receipt_that_verifies() {
    let served = serve_on(Duration::from_millis(100), true).await;
    let tenant = Uuid::new_v4();
    let scheduled = served
        .schedule(account_purge(tenant, "123456789012"))
        .await
        .expect("schedule");
    let plan = served
        .purges()
        .plan_purge(served.request(
            &As::Operator,
            pb::PlanPurgeRequest {
                purge_id: scheduled.id.clone(),
            },
        ))
        .await
        .expect("plan")
        .into_inner()
        .plan
        .expect("plan");
    assert!(
        plan.entries
            .iter()
            .any(|entry| entry.table == "purge_request" && entry.rows == 1),
        "the service's own records are counted: {plan:?}"
    );
    served
        .purges()
        .expedite_purge(served.request(&As::Operator, expedite(&scheduled.id, "OPS-3")))
        .await
        .expect("expedite");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while served.state(&scheduled.id).await != pb::PurgeState::Completed as i32 {
        assert!(tokio::time::Instant::now() < deadline, "never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let receipt = served
        .purges()
        .get_receipt(served.request(
            &As::Customer(tenant),
            pb::GetReceiptRequest {
                purge_id: scheduled.id.clone(),
            },
        ))
        .await
        .expect("the tenant reads its receipt")
        .into_inner()
        .receipt
        .expect("receipt");
    assert_eq!(receipt.sequence, 1);
    assert_eq!(receipt.manifest_hash, plan.manifest_hash);
    let chain = served
        .purges()
        .verify_receipt_chain(served.request(&As::Operator, pb::VerifyReceiptChainRequest {}))
        .await
        .expect("verify")
        .into_inner();
    assert!(chain.intact && chain.checked == 1, "{chain:?}");
    served.host.shutdown().await;
}
