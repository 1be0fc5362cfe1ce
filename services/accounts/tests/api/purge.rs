//! The data-owner interface: the dry run names exactly what the real purge then deletes, login
//! information survives an account-scope purge, a repeat is harmless, stored idempotency responses
//! go with their subject, and every column is registered.

use std::collections::BTreeSet;

use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tenure_proto::common::v1::DataClass;
use tenure_proto::purge::v1 as purge;
use tonic::Code;
use uuid::Uuid;

use crate::support::{As, Backend, Served, expect_code, key, reason, serve, timestamp};

/// A tenant with one account that holds details, cost records and history.
pub(crate) async fn tenant_with_data(
    served: &Served,
    aws_account_id: &str,
) -> (Uuid, pb::AwsAccount) {
    let tenant = served.tenant().await;
    let account = served.active_member(tenant, aws_account_id).await;
    let now = served.clock_now();
    served
        .accounts()
        .put_account_details(served.request(
            As::Orders(tenant),
            pb::PutAccountDetailsRequest {
                idempotency_key: key(),
                account_id: account.id.clone(),
                details: Some(pb::AccountDetails {
                    name: "Production – ünïcode".to_owned(),
                    email: "root@example.com".to_owned(),
                    organization_path: "o-abcdefghij/r-ab12/".to_owned(),
                    tags: vec![pb::Tag {
                        key: "team".to_owned(),
                        value: "core".to_owned(),
                    }],
                    fetched_at: Some(timestamp(now)),
                }),
            },
        ))
        .await
        .expect("details");
    served
        .accounts()
        .record_cost_records(
            served.request(
                As::Orders(tenant),
                pb::RecordCostRecordsRequest {
                    idempotency_key: key(),
                    account_id: account.id.clone(),
                    records: (1..=3)
                        .map(|day| pb::CostRecord {
                            period_start: Some(timestamp(now - chrono::Duration::days(day))),
                            period_end: Some(timestamp(now - chrono::Duration::days(day - 1))),
                            service: "AmazonEC2".to_owned(),
                            amount_micros: 1_250_000,
                            currency: "USD".to_owned(),
                        })
                        .collect(),
                },
            ),
        )
        .await
        .expect("costs");
    (tenant, account)
}

fn scope(
    kind: purge::ScopeKind,
    tenant: Uuid,
    aws_account_id: &str,
) -> Option<purge::ParticipantScope> {
    Some(purge::ParticipantScope {
        kind: kind as i32,
        tenant_id: tenant.to_string(),
        aws_account_id: aws_account_id.to_owned(),
    })
}

/// The tables where `entries` acted.
fn acted_tables(entries: &[purge::TableCount]) -> BTreeSet<String> {
    acted(entries)
        .into_iter()
        .map(|(table, ..)| table)
        .collect()
}

const PURGED: [DataClass; 3] = [
    DataClass::AwsFetched,
    DataClass::CostData,
    DataClass::LoginIdentity,
];

/// Calls participant `method` with a fresh purge id over the subject `(kind, tenant,
/// aws_account_id)`, asking for every purged class.
macro_rules! participant_call {
    ($served:expr, $method:ident, $request:ident { $($field:ident: $value:expr),* $(,)? }, $subject:expr) => {{
        let (kind, tenant, aws_account_id) = $subject;
        $served
            .participant()
            .$method($served.request(
                As::PurgerFor(tenant),
                purge::$request {
                    $($field: $value,)*
                    purge_id: Uuid::new_v4().to_string(),
                    scope: scope(kind, tenant, aws_account_id),
                    classes: PURGED.iter().map(|class| *class as i32).collect(),
                },
            ))
            .await
            .expect(stringify!($method))
            .into_inner()
    }};
}

pub(crate) async fn plan(
    served: &Served,
    kind: purge::ScopeKind,
    tenant: Uuid,
    aws_account_id: &str,
) -> Vec<purge::TableCount> {
    participant_call!(served, plan, PlanRequest {}, (kind, tenant, aws_account_id)).entries
}

pub(crate) async fn execute(
    served: &Served,
    kind: purge::ScopeKind,
    tenant: Uuid,
    aws_account_id: &str,
) -> Vec<purge::TableCount> {
    let subject = (kind, tenant, aws_account_id);
    participant_call!(
        served,
        execute,
        ExecuteRequest {
            idempotency_key: key()
        },
        subject
    )
    .entries
}

pub(crate) async fn verify(
    served: &Served,
    kind: purge::ScopeKind,
    tenant: Uuid,
    aws_account_id: &str,
) -> Vec<purge::TableCount> {
    participant_call!(
        served,
        verify,
        VerifyRequest {},
        (kind, tenant, aws_account_id)
    )
    .residual
}

/// The entries a purge acts on (not kept), keyed by table and class.
pub(crate) fn acted(entries: &[purge::TableCount]) -> Vec<(String, i32, i32, u64)> {
    let mut acted: Vec<_> = entries
        .iter()
        .filter(|entry| entry.action() != purge::PurgeAction::Keep && entry.rows > 0)
        .map(|entry| {
            (
                entry.table.clone(),
                entry.data_class,
                entry.action,
                entry.rows,
            )
        })
        .collect();
    acted.sort();
    acted
}

/// The dry run matches the real purge, the purge keeps login information for an account scope, and
/// a second run deletes nothing.
pub(crate) async fn account_purge_matches_its_plan(served: &Served) {
    let (tenant, account) = tenant_with_data(served, "700000000001").await;
    let planned = plan(served, purge::ScopeKind::Account, tenant, "700000000001").await;
    assert_eq!(
        planned,
        plan(served, purge::ScopeKind::Account, tenant, "700000000001").await,
        "a dry run changes nothing"
    );
    let executed = execute(served, purge::ScopeKind::Account, tenant, "700000000001").await;
    assert_eq!(
        acted(&planned),
        acted(&executed),
        "the purge deletes exactly the planned rows"
    );
    let tables: BTreeSet<_> = acted_tables(&executed);
    assert_eq!(
        tables,
        BTreeSet::from([
            "account_details".into(),
            "aws_account".into(),
            "cost_record".into(),
            "idempotency_record".into(),
        ])
    );
    assert!(
        acted(&planned).contains(&(
            "idempotency_record".into(),
            DataClass::AwsFetched as i32,
            purge::PurgeAction::Delete as i32,
            // Reserve, attach, activate, details and cost records of the one account.
            5,
        )),
        "{planned:?}"
    );
    let login_entries: Vec<_> = planned
        .iter()
        .filter(|entry| entry.data_class() == DataClass::LoginIdentity)
        .collect();
    assert!(
        login_entries
            .iter()
            .all(|entry| entry.action() == purge::PurgeAction::Keep)
    );
    assert!(
        verify(served, purge::ScopeKind::Account, tenant, "700000000001")
            .await
            .is_empty()
    );
    assert!(
        acted(&execute(served, purge::ScopeKind::Account, tenant, "700000000001").await).is_empty(),
        "a repeat deletes nothing"
    );
    // The tombstone stays, without its AWS-fetched fields; the users stay too.
    let tombstone = served
        .get_account(As::Operator, &account.id)
        .await
        .expect("tombstone");
    assert_eq!(tombstone.aws_account_id, "700000000001");
    assert!(
        tombstone.root_email.is_empty()
            && tombstone.name.is_empty()
            && tombstone.organization_id.is_empty()
    );
    let users = served.users(As::Customer(tenant)).await;
    assert_eq!(
        users.len(),
        1,
        "login information survives an account-scope purge"
    );
}

/// Every call that made a record: its idempotency key and request, to replay after the purge.
struct Onboarding {
    reserve: pb::ReserveAccountRequest,
    attach: pb::AttachAccountRequest,
    reserved: pb::AwsAccount,
}

/// A NEW account with a root email and name, attached to `aws_account_id`, then unlinked so an
/// account purge is due.
async fn onboarded_then_unlinked(
    served: &Served,
    tenant: Uuid,
    aws_account_id: &str,
) -> Onboarding {
    let reserve = pb::ReserveAccountRequest {
        idempotency_key: key(),
        order_id: Uuid::new_v4().to_string(),
        kind: pb::ReservationKind::NewAccount as i32,
        aws_account_id: String::new(),
        root_email: "purged-root@example.com".to_owned(),
        account_name: "Purged name".to_owned(),
        role: pb::AccountRole::Member as i32,
        relationship: common::AccountRelationship::PlatformMember as i32,
        management_account_id: String::new(),
        root_access: 0,
    };
    let reserved = served
        .accounts()
        .reserve_account(served.request(As::Orders(tenant), reserve.clone()))
        .await
        .expect("reserve")
        .into_inner()
        .account
        .expect("account");
    let attach = pb::AttachAccountRequest {
        idempotency_key: key(),
        account_id: reserved.id.clone(),
        aws_account_id: aws_account_id.to_owned(),
        organization_id: "o-abcdefghij".to_owned(),
        parent_id: "r-ab12".to_owned(),
        joined_method: pb::JoinedMethod::Created as i32,
    };
    let attached = served
        .accounts()
        .attach_account(served.request(As::Orders(tenant), attach.clone()))
        .await
        .expect("attach")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(attached.root_email, "purged-root@example.com");
    served
        .activate(tenant, &reserved.id)
        .await
        .expect("activate");
    served
        .offboard(
            tenant,
            aws_account_id,
            &reserved.id,
            pb::OffboardingOutcome::Unlinked,
        )
        .await;
    Onboarding {
        reserve,
        attach,
        reserved,
    }
}

/// After an account purge the stored responses of its calls are gone: replaying a key no longer
/// returns the purged root email. The key is new again, so the request is evaluated afresh: the
/// attachment is refused by the record's state, and the reservation makes a new record from the
/// request's own fields.
pub(crate) async fn purged_responses_are_not_replayed(served: &Served) {
    let tenant = served.tenant().await;
    let onboarding = onboarded_then_unlinked(served, tenant, "700000000009").await;
    let before = served
        .accounts()
        .attach_account(served.request(As::Orders(tenant), onboarding.attach.clone()))
        .await
        .expect("replay before the purge")
        .into_inner();
    assert_eq!(
        before.account.expect("account").root_email,
        "purged-root@example.com",
        "a replay before the purge answers with the stored response"
    );

    let planned = plan(served, purge::ScopeKind::Account, tenant, "700000000009").await;
    let executed = execute(served, purge::ScopeKind::Account, tenant, "700000000009").await;
    assert_eq!(acted(&planned), acted(&executed));
    assert!(
        verify(served, purge::ScopeKind::Account, tenant, "700000000009")
            .await
            .is_empty()
    );

    let status = expect_code(
        served
            .accounts()
            .attach_account(served.request(As::Orders(tenant), onboarding.attach))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "INVALID_TRANSITION");
    assert!(!format!("{status:?}").contains("purged-root"), "{status:?}");
    let again = served
        .accounts()
        .reserve_account(served.request(As::Orders(tenant), onboarding.reserve))
        .await
        .expect("a fresh reservation")
        .into_inner()
        .account
        .expect("account");
    assert_ne!(again.id, onboarding.reserved.id, "not the purged record");
    assert_eq!(again.state(), pb::AccountState::PendingCreation);
    let tombstone = served
        .get_account(As::Operator, &onboarding.reserved.id)
        .await
        .expect("tombstone");
    assert!(tombstone.root_email.is_empty() && tombstone.name.is_empty());
}

/// The idempotency records filed under `tenant` or keyed by it, read past the service.
async fn idempotency_records_of(served: &Served, tenant: Uuid) -> i64 {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let database = served.database.as_ref().expect("postgres");
    let conn = sea_orm::Database::connect(database.url().expose())
        .await
        .expect("connect");
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            // The purge's own Execute answers (counts, nothing of the tenant's) are kept under the
            // tenant it names, as data-purge names it on every call.
            "SELECT count(*) AS n FROM accounts.idempotency_record \
             WHERE (tenant_id = $1 OR subject_tenant = $1) \
             AND method NOT LIKE '/tenure.purge.v1.PurgeParticipant/%'",
            [tenant.to_string().into()],
        ))
        .await
        .expect("count")
        .expect("row");
    conn.close().await.ok();
    row.try_get("", "n").expect("n")
}

#[tokio::test]
async fn an_account_purge_deletes_exactly_what_its_dry_run_planned() {
    let served = serve(Backend::Postgres).await;
    account_purge_matches_its_plan(&served).await;
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_tenant_purge_removes_login_information_too() {
    let served = serve(Backend::Postgres).await;
    let (tenant, _) = tenant_with_data(&served, "700000000002").await;
    let (other, _) = tenant_with_data(&served, "700000000003").await;
    let others_records = idempotency_records_of(&served, other).await;
    assert!(idempotency_records_of(&served, tenant).await > 0);
    let planned = plan(&served, purge::ScopeKind::Tenant, tenant, "").await;
    let executed = execute(&served, purge::ScopeKind::Tenant, tenant, "").await;
    assert_eq!(acted(&planned), acted(&executed));
    let stored_responses: Vec<_> = acted(&executed)
        .into_iter()
        .filter(|(table, ..)| table == "idempotency_record")
        .collect();
    assert_eq!(
        stored_responses,
        [
            // The account's calls; then the tenant's creation, filed under the tenant.
            (
                "idempotency_record".to_owned(),
                DataClass::AwsFetched as i32,
                purge::PurgeAction::Delete as i32,
                5
            ),
            (
                "idempotency_record".to_owned(),
                DataClass::LoginIdentity as i32,
                purge::PurgeAction::Delete as i32,
                1
            ),
        ]
    );
    assert_eq!(
        idempotency_records_of(&served, tenant).await,
        0,
        "no stored response of the tenant is left"
    );
    assert_eq!(idempotency_records_of(&served, other).await, others_records);
    assert!(
        acted(&execute(&served, purge::ScopeKind::Tenant, tenant, "").await).is_empty(),
        "a repeat deletes nothing"
    );
    let tables: BTreeSet<_> = acted_tables(&executed);
    assert!(
        tables.contains("app_user") && tables.contains("tenant"),
        "{tables:?}"
    );
    assert!(
        verify(&served, purge::ScopeKind::Tenant, tenant, "")
            .await
            .is_empty()
    );
    let users = served.users(As::Customer(tenant)).await;
    assert!(users.is_empty());
    let others = served.users(As::Customer(other)).await;
    assert_eq!(others.len(), 1, "another tenant is untouched");
    served.host.shutdown().await;
}

#[tokio::test]
async fn every_persisted_column_is_registered_with_a_data_class() {
    let served = serve(Backend::Postgres).await;
    let described = served
        .participant()
        .describe_data_classes(served.request(As::Purger, purge::DescribeDataClassesRequest {}))
        .await
        .expect("describe")
        .into_inner();
    assert_eq!(described.service, "accounts");
    let registered: BTreeSet<(String, String)> = described
        .columns
        .iter()
        .map(|column| (column.table.clone(), column.column.clone()))
        .collect();
    let persisted = served
        .database
        .as_ref()
        .expect("postgres")
        .columns("accounts")
        .await
        .expect("catalogue");
    assert_eq!(
        persisted, registered,
        "G1: no unregistered column, no stale registration"
    );
    assert!(
        described
            .columns
            .iter()
            .all(|column| column.data_class != 0)
    );
    served.host.shutdown().await;
}
