//! Tenant isolation (quality.md S1–S5, S19): a customer sees only its tenant, another tenant's id answers
//! exactly like a random id, cross-tenant callers are audited, and row-level security holds even where
//! the application forgets its filter.

use tenure_grpc::{Role, ServiceKind};
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::support::{As, Backend, Served, expect_code, key, row_count, serve, serve_tenant};

/// Two tenants, B with an account that has details, costs and a user.
struct TwoTenants {
    a: Uuid,
    b: Uuid,
    b_account: pb::AwsAccount,
}

async fn two_tenants(served: &Served) -> TwoTenants {
    let a = served.tenant().await;
    let b = served.tenant().await;
    served.active_member(a, "900000000001").await;
    let b_account = served.active_member(b, "900000000002").await;
    TwoTenants { a, b, b_account }
}

/// Code, message and details must match byte for byte.
/// Asks `method` as `caller` once for another tenant's object and once for a random one, and asserts
/// the two answers cannot be told apart.
macro_rules! assert_foreign_like_random {
    ($served:expr, $caller:expr, $method:ident, $foreign:expr, $random:expr, $what:literal) => {{
        let foreign = $served
            .accounts()
            .$method($served.request($caller, $foreign))
            .await;
        let random = $served
            .accounts()
            .$method($served.request($caller, $random))
            .await;
        assert_same_answer(
            &foreign.expect_err("foreign"),
            &random.expect_err("random"),
            $what,
        );
    }};
}

fn assert_same_answer(foreign: &Status, random: &Status, what: &str) {
    assert_eq!(foreign.code(), Code::NotFound, "{what}: {foreign:?}");
    assert_eq!(foreign.code(), random.code(), "{what}");
    assert_eq!(foreign.message(), random.message(), "{what}");
    assert_eq!(foreign.details(), random.details(), "{what}");
}

async fn call_raw(served: &Served, token: Option<&str>, path: &str) -> Status {
    tenure_testkit::grpc::call_empty(&served.channel, path, token).await
}

#[tokio::test]
async fn s1_calls_without_usable_credentials_are_unauthenticated_alike() {
    let served = serve(Backend::Postgres).await;
    let path = "/tenure.accounts.v1.AccountService/ListAccounts";
    let answers = [
        call_raw(&served, None, path).await,
        call_raw(&served, Some(""), path).await,
        call_raw(&served, Some("not-a-jwt"), path).await,
    ];
    for answer in &answers {
        assert_eq!(answer.code(), Code::Unauthenticated, "{answer:?}");
        assert_eq!(answer.message(), answers[0].message());
    }
    served.host.shutdown().await;
}

#[tokio::test]
async fn s2_forged_tokens_are_unauthenticated() {
    let served = serve(Backend::Postgres).await;
    let path = "/tenure.accounts.v1.AccountService/ListAccounts";
    // {"alg":"none","typ":"JWT"} . {"sub":"x","role":"operator"} . (no signature)
    let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4Iiwicm9sZSI6Im9wZXJhdG9yIn0.";
    let valid = served.host.token(Role::Operator, None);
    let mut flipped = valid.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    for token in [unsigned, flipped.as_str()] {
        let status = call_raw(&served, Some(token), path).await;
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    served.host.shutdown().await;
}

#[tokio::test]
async fn s3_tokens_for_another_audience_or_role_are_refused() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let for_provisioning = served
        .host
        .service_token(ServiceKind::Orders, ServiceKind::Provisioning);
    let status = call_raw(
        &served,
        Some(&for_provisioning),
        "/tenure.accounts.v1.AccountService/ReserveAccount",
    )
    .await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let customer = served.host.token(Role::Customer, Some(tenant));
    let status = call_raw(
        &served,
        Some(&customer),
        "/tenure.accounts.v1.AccountService/ReserveAccount",
    )
    .await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    served.host.shutdown().await;
}

#[tokio::test]
async fn s4_customer_cannot_read_other_tenant_account() {
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    let random = Uuid::new_v4().to_string();
    let foreign = served.get_account(As::Customer(t.a), &t.b_account.id).await;
    let missing = served.get_account(As::Customer(t.a), &random).await;
    assert_same_answer(
        &foreign.expect_err("foreign"),
        &missing.expect_err("random"),
        "GetAccount",
    );

    let by_aws_id = |aws: &str| pb::GetAccountRequest {
        lookup: Some(pb::get_account_request::Lookup::AwsAccountId(
            aws.to_owned(),
        )),
    };
    assert_foreign_like_random!(
        served,
        As::Customer(t.a),
        get_account,
        by_aws_id("900000000002"),
        by_aws_id("900000000099"),
        "by AWS id"
    );

    let history = |id: &str| pb::ListAccountTransitionsRequest {
        account_id: id.to_owned(),
        ..Default::default()
    };
    assert_foreign_like_random!(
        served,
        As::Customer(t.a),
        list_account_transitions,
        history(&t.b_account.id),
        history(&random),
        "transitions"
    );

    let check = |aws: &str| pb::CheckTerminationRequest {
        aws_account_id: aws.to_owned(),
        mode: common::TerminationMode::Close as i32,
        ..Default::default()
    };
    assert_foreign_like_random!(
        served,
        As::Customer(t.a),
        check_termination,
        check("900000000002"),
        check("900000000099"),
        "CheckTermination"
    );

    let costs = |id: &str| pb::ListCostRecordsRequest {
        account_id: id.to_owned(),
        ..Default::default()
    };
    assert_foreign_like_random!(
        served,
        As::Customer(t.a),
        list_cost_records,
        costs(&t.b_account.id),
        costs(&random),
        "costs"
    );

    let foreign = served
        .accounts()
        .get_tenant(served.request(
            As::Customer(t.a),
            pb::GetTenantRequest {
                tenant_id: t.b.to_string(),
            },
        ))
        .await;
    let missing = served
        .accounts()
        .get_tenant(served.request(
            As::Customer(t.a),
            pb::GetTenantRequest {
                tenant_id: random.clone(),
            },
        ))
        .await;
    assert_same_answer(
        &foreign.expect_err("foreign"),
        &missing.expect_err("random"),
        "GetTenant",
    );

    let listed = served.list_accounts(As::Customer(t.a)).await;
    assert_eq!(listed.len(), 1);
    assert!(
        listed
            .iter()
            .all(|account| account.tenant_id == t.a.to_string())
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn s4_writes_with_another_tenants_ids_change_nothing() {
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    // The orders service acting for tenant A names B's record.
    let status = expect_code(
        served
            .accounts()
            .abort_offboarding(served.request(
                As::Orders(t.a),
                pb::AbortOffboardingRequest {
                    idempotency_key: key(),
                    account_id: t.b_account.id.clone(),
                    reason: String::new(),
                },
            ))
            .await,
        Code::NotFound,
    );
    assert_eq!(status.message(), "account not found");
    expect_code(
        served
            .begin_offboarding(
                t.a,
                "900000000002",
                common::TerminationMode::Close,
                Uuid::new_v4(),
            )
            .await,
        Code::NotFound,
    );
    let after = served
        .get_account(As::Customer(t.b), &t.b_account.id)
        .await
        .expect("B reads");
    assert_eq!(
        after.state(),
        pb::AccountState::Active,
        "B's record is unchanged"
    );
    assert_eq!(
        after,
        served
            .get_account(As::Customer(t.b), &t.b_account.id)
            .await
            .expect("again")
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn s5_a_transfer_of_an_account_another_tenant_manages_names_nothing_of_that_tenant() {
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    let before = row_count(&served, "aws_account").await;
    let status = expect_code(
        served
            .reserve_member_transfer(t.a, "900000000002", Uuid::new_v4())
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(crate::support::reason(&status), "TNR213");
    assert_eq!(
        status.message(),
        "Account 900000000002 cannot be transferred to your subscription. Contact support."
    );
    let everything = format!("{status:?}{:?}", status.details());
    for secret in [t.b.to_string(), t.b_account.id.clone()] {
        assert!(
            !everything.contains(&secret),
            "no detail names the other tenant"
        );
    }
    assert!(
        crate::support::metadata(&status, "current_state").is_empty(),
        "nor the state of its record"
    );
    assert_eq!(row_count(&served, "aws_account").await, before, "no row");
    // The same account inside the caller's own tenant is a plain, specific answer.
    let status = expect_code(
        served
            .reserve_member_transfer(t.b, "900000000002", Uuid::new_v4())
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(crate::support::reason(&status), "TNR010");
    served.host.shutdown().await;
}

#[tokio::test]
async fn s5_a_page_token_of_another_tenant_is_refused() {
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    served.active_member(t.b, "900000000003").await;
    let page = served
        .accounts()
        .list_accounts(served.request(
            As::Customer(t.b),
            pb::ListAccountsRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("B's first page")
        .into_inner();
    assert!(!page.next_page_token.is_empty());
    let status = expect_code(
        served
            .accounts()
            .list_accounts(served.request(
                As::Customer(t.a),
                pb::ListAccountsRequest {
                    page_size: 1,
                    page_token: page.next_page_token.clone(),
                    ..Default::default()
                },
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(crate::support::violated_fields(&status), ["page_token"]);
    let second = served
        .accounts()
        .list_accounts(served.request(
            As::Customer(t.b),
            pb::ListAccountsRequest {
                page_size: 1,
                page_token: page.next_page_token,
                ..Default::default()
            },
        ))
        .await
        .expect("B's second page")
        .into_inner();
    assert_eq!(second.accounts.len(), 1);
    assert_ne!(second.accounts[0].id, page.accounts[0].id);
    served.host.shutdown().await;
}

#[tokio::test]
async fn s6_a_customer_naming_another_tenant_is_refused() {
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    expect_code(
        served
            .accounts()
            .list_accounts(served.request(
                As::Customer(t.a),
                pb::ListAccountsRequest {
                    tenant_id: t.b.to_string(),
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn operators_act_across_tenants_and_leave_an_audit_trail() {
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    let audit_before = row_count(&served, "audit_event").await;
    let everything = served.list_accounts(As::Operator).await;
    assert_eq!(everything.len(), 2);
    let billing = served.list_accounts(As::Billing).await;
    assert_eq!(billing.len(), 2);
    served
        .get_account(As::Operator, &t.b_account.id)
        .await
        .expect("operator reads B");
    assert_eq!(
        row_count(&served, "audit_event").await,
        audit_before + 2,
        "operator reads are audited"
    );
    let customers_view = served.list_accounts(As::Customer(t.b)).await;
    assert!(
        customers_view[0].root_email.is_empty() || customers_view[0].root_email.contains("***")
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_rows_even_without_an_application_filter() {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    let database = served.database.as_ref().expect("postgres");
    let app_role = database.create_login_role("app").await.expect("role");
    let owner = sea_orm::Database::connect(database.url().expose())
        .await
        .expect("owner");
    for grant in [
        format!("GRANT USAGE ON SCHEMA accounts TO \"{}\"", app_role.name),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA accounts TO \"{}\"",
            app_role.name
        ),
    ] {
        owner
            .execute_raw(Statement::from_string(DbBackend::Postgres, grant))
            .await
            .expect("grant");
    }
    let app = tenure_db::connect(&tenure_db::DatabaseSettings {
        url: app_role.url.clone(),
        ..database.settings("accounts")
    })
    .await
    .expect("connect as app");
    assert!(
        tenure_db::role_check(&app)
            .await
            .expect("check")
            .is_restricted()
    );
    // A query that forgot its tenant filter, inside tenant A's transaction.
    let forgotten = "SELECT tenant_id::text AS tenant FROM aws_account";
    let as_a = tenure_db::TenantTx::begin(&app, t.a).await.expect("begin");
    let rows = as_a
        .query_all_raw(Statement::from_string(DbBackend::Postgres, forgotten))
        .await
        .expect("query");
    let tenants: Vec<String> = rows
        .iter()
        .map(|row| row.try_get("", "tenant").expect("tenant"))
        .collect();
    assert_eq!(
        tenants,
        [t.a.to_string()],
        "only A's row, though B has one too"
    );
    // Nor may A's transaction write a row for B.
    let smuggle = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE aws_account SET state = 'abandoned' WHERE id = $1",
        [Uuid::parse_str(&t.b_account.id).expect("uuid").into()],
    );
    let changed = as_a.execute_raw(smuggle).await.expect("update runs");
    assert_eq!(changed.rows_affected(), 0);
    as_a.rollback().await.expect("rollback");
    let unscoped = tenure_db::TenantTx::begin_unscoped(&app)
        .await
        .expect("begin");
    let rows = unscoped
        .query_all_raw(Statement::from_string(DbBackend::Postgres, forgotten))
        .await
        .expect("query");
    assert!(rows.is_empty(), "no tenant set: no rows");
    unscoped.rollback().await.expect("rollback");
    owner.close().await.ok();
    served.host.shutdown().await;
}

#[tokio::test]
async fn users_are_created_in_the_callers_tenant_or_the_one_an_operator_names() {
    let served = serve(Backend::Postgres).await;
    let t = two_tenants(&served).await;
    let new_user = |tenant_id: String, subject: &str| pb::CreateUserRequest {
        idempotency_key: key(),
        user: Some(pb::NewUser {
            email: format!("{subject}@example.com"),
            display_name: "Grace Member".to_owned(),
            idp_subject: format!("idp|{subject}"),
        }),
        role: pb::UserRole::Member as i32,
        tenant_id,
    };
    let users_of = async |tenant: Uuid| {
        served
            .accounts()
            .list_users(served.request(
                As::Operator,
                pb::ListUsersRequest {
                    tenant_id: tenant.to_string(),
                    ..Default::default()
                },
            ))
            .await
            .expect("operator lists users")
            .into_inner()
            .users
    };
    let b_users_before = users_of(t.b).await.len();

    let created = served
        .accounts()
        .create_user(served.request(As::Operator, new_user(t.b.to_string(), "grace")))
        .await
        .expect("an operator adds a user to the tenant it names")
        .into_inner()
        .user
        .expect("user");
    assert!(users_of(t.b).await.iter().any(|user| user.id == created.id));
    assert!(!users_of(t.a).await.iter().any(|user| user.id == created.id));

    let unnamed = expect_code(
        served
            .accounts()
            .create_user(served.request(As::Operator, new_user(String::new(), "hopper")))
            .await,
        Code::InvalidArgument,
    );
    assert!(unnamed.message().contains("tenant_id"), "{unnamed:?}");

    expect_code(
        served
            .accounts()
            .create_user(served.request(As::Customer(t.a), new_user(t.b.to_string(), "mallory")))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(
        users_of(t.b).await.len(),
        b_users_before + 1,
        "only the operator's user joined B"
    );

    let own = served
        .accounts()
        .create_user(served.request(As::Customer(t.a), new_user(String::new(), "linus")))
        .await
        .expect("a customer adds a user to its own tenant")
        .into_inner()
        .user
        .expect("user");
    assert!(users_of(t.a).await.iter().any(|user| user.id == own.id));
    served.host.shutdown().await;
}

/// The checks that must see other tenants in the middle of a tenant's change, and billing's report
/// across tenants, still work where row-level security binds the service's own role.
#[tokio::test]
async fn under_row_level_security_cross_tenant_checks_and_billing_reports_see_every_tenant() {
    let served = crate::support::serve_restricted().await;
    let a = served.tenant().await;
    let b = served.tenant().await;

    // A's account left the platform: its record is no longer live, so no unique index stops B, only
    // a read across tenants.
    let left = served
        .reserve_new(a, "gone@example.com", "Gone")
        .await
        .expect("reserve");
    served
        .attach(a, &left.id, "900000000010")
        .await
        .expect("attach");
    served.activate(a, &left.id).await.expect("activate");
    served
        .offboard(
            a,
            "900000000010",
            &left.id,
            pb::OffboardingOutcome::Unlinked,
        )
        .await;
    let status = expect_code(
        served.reserve_new(b, "gone@example.com", "Again").await,
        Code::FailedPrecondition,
    );
    assert_eq!(crate::support::metadata(&status, "code"), "TNR101");

    let in_a = served.active_member(a, "900000000011").await;
    let status = expect_code(
        served
            .reserve_member_transfer(b, "900000000011", Uuid::new_v4())
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(crate::support::reason(&status), "TNR213");

    let in_b = served.active_member(b, "900000000012").await;
    let now = crate::support::timestamp(served.clock_now());
    let reported = served
        .accounts()
        .report_open_balances(
            served.request(
                As::Billing,
                pb::ReportOpenBalancesRequest {
                    idempotency_key: key(),
                    balances: ["900000000011", "900000000012"]
                        .into_iter()
                        .map(|id| pb::OpenBalanceReport {
                            aws_account_id: id.to_owned(),
                            amount: Some(common::Money {
                                currency_code: "EUR".to_owned(),
                                amount_micros: 9_990_000,
                            }),
                            as_of: Some(now),
                        })
                        .collect(),
                },
            ),
        )
        .await
        .expect("report")
        .into_inner();
    assert_eq!(reported.recorded, 2, "one transaction, both tenants");
    for (tenant, account) in [(a, &in_a), (b, &in_b)] {
        let read = served
            .get_account(As::Customer(tenant), &account.id)
            .await
            .expect("read");
        assert!(read.open_balance.is_some(), "{tenant}");
    }

    let removed = served
        .remove_from_platform(As::Operator, &in_a.id)
        .await
        .expect("an operator removes A's account");
    assert_eq!(removed.state(), pb::AccountState::Removed);
    let status = expect_code(
        served
            .reserve_member_transfer(a, "900000000011", Uuid::new_v4())
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(crate::support::reason(&status), "TNR010");
    let restored = served
        .restore_to_platform(As::Admin(a), &in_a.id)
        .await
        .expect("A's administrator restores it");
    assert_eq!(restored.state(), pb::AccountState::Active);
    served.host.shutdown().await;
}
