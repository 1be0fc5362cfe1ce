//! Validation through the real server: every rule of domain.md §7 that the accounts contract carries,
//! INVALID_ARGUMENT with one field violation per problem, and nothing stored.

use std::fmt::Debug;
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;

use tonic::{Code, Status};
use uuid::Uuid;

use crate::support::{
    As, Backend, expect_code, key, reason, row_count, serve, serve_tenant, violated_fields,
};

/// Fails the test unless `answer` is INVALID_ARGUMENT naming `field` alone, for `reason_code`; `bad`
/// is the value tried.
#[track_caller]
fn assert_invalid<T: Debug>(
    answer: Result<T, Status>,
    field: &str,
    reason_code: &str,
    bad: &dyn Debug,
) {
    let status = expect_code(answer, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), [field], "{bad:?}");
    assert_eq!(reason(&status), reason_code, "{bad:?}");
}

/// The fields a refusal names, sorted.
fn sorted_violations(status: &Status) -> Vec<String> {
    let mut fields = violated_fields(status);
    fields.sort();
    fields
}

#[tokio::test]
async fn account_ids_must_be_exactly_twelve_ascii_digits_and_keep_leading_zeros() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    // S14.
    for bad in [
        "01234567890",
        "0123456789012",
        "01234567890a",
        " 012345678901",
        "٠١٢٣٤٥٦٧٨٩٠١",
        "012345678901\n",
    ] {
        assert_invalid(
            served
                .reserve_member_transfer(tenant, bad, Uuid::new_v4())
                .await,
            "aws_account_id",
            "TNR001",
            &bad,
        );
    }
    assert_eq!(row_count(&served, "aws_account").await, 0, "nothing stored");
    let kept = served.active_member(tenant, "012345678901").await;
    assert_eq!(kept.aws_account_id, "012345678901");
    let read = served
        .get_account(As::Customer(tenant), &kept.id)
        .await
        .expect("read");
    assert_eq!(
        read.aws_account_id, "012345678901",
        "the leading zero round-trips"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn account_names_are_one_to_fifty_printable_ascii_characters() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    // S15.
    let too_long = "n".repeat(51);
    for bad in [
        "",
        too_long.as_str(),
        "a\tb",
        "a\u{0}b",
        "café",
        "a\u{202E}b",
        " leading",
    ] {
        assert_invalid(
            served.reserve_new(tenant, "root@example.com", bad).await,
            "account_name",
            "TNR003",
            &bad,
        );
    }
    assert_eq!(row_count(&served, "aws_account").await, 0, "nothing stored");
    let longest = "~".repeat(50);
    served
        .reserve_new(tenant, "root@example.com", &longest)
        .await
        .expect("50 printable ASCII characters are accepted");
    served.host.shutdown().await;
}

#[tokio::test]
async fn root_emails_follow_the_aws_rules_and_tenures_stricter_ones() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    // S16.
    for bad in [
        "a@b.c".to_owned(),
        format!("{}@example.com", "a".repeat(53)),
        "a@b@example.com".to_owned(),
        ".a@b.com".to_owned(),
        "a@-b.com".to_owned(),
        "a@b".to_owned(),
        "a(b)@c.com".to_owned(),
        "ä@b.com".to_owned(),
        "a@b.com.".to_owned(),
    ] {
        assert_invalid(
            served.reserve_new(tenant, &bad, "Workload").await,
            "root_email",
            "TNR002",
            &bad,
        );
    }
    assert_eq!(row_count(&served, "aws_account").await, 0, "nothing stored");
    served
        .reserve_new(tenant, "Root.Alias+1@Example.com", "Workload")
        .await
        .expect("a valid email is stored as given");
    served.host.shutdown().await;
}

#[tokio::test]
async fn every_problem_of_a_request_is_reported_at_once_and_nothing_is_stored() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let status = expect_code(
        served
            .accounts()
            .reserve_account(served.request(
                As::Orders(tenant),
                pb::ReserveAccountRequest {
                    idempotency_key: "short".to_owned(),
                    order_id: "not-a-uuid".to_owned(),
                    kind: pb::ReservationKind::NewAccount as i32,
                    aws_account_id: String::new(),
                    root_email: "nope".to_owned(),
                    account_name: String::new(),
                    role: 0,
                    relationship: 99,
                    management_account_id: String::new(),
                    root_access: 0,
                },
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        sorted_violations(&status),
        [
            "account_name",
            "idempotency_key",
            "order_id",
            "relationship",
            "role",
            "root_email"
        ]
    );
    assert_eq!(row_count(&served, "aws_account").await, 0);
    assert_eq!(
        row_count(&served, "idempotency_record").await,
        1,
        "only the tenant's creation"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn options_that_do_not_fit_together_are_refused() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    // A billing transfer's source manages its own organization: it names no management account.
    let (source, management) = ("123456789012", "210987654321");
    let status = expect_code(
        served
            .reserve_transfer(
                tenant,
                source,
                pb::AccountRole::Management,
                common::AccountRelationship::BillingTransferSource,
                management,
                Uuid::new_v4(),
            )
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["management_account_id"]);
    assert_eq!(reason(&status), "TNR008");
    served.host.shutdown().await;
}

#[tokio::test]
async fn free_text_tickets_pages_and_ids_are_checked() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let account = served.active_member(tenant, "111111111111").await;
    let status = expect_code(
        served
            .accounts()
            .reopen_account(served.request(
                As::Operator,
                pb::ReopenAccountRequest {
                    idempotency_key: key(),
                    account_id: account.id.clone(),
                    reason: "short".to_owned(),
                    ticket: "ops-1".to_owned(),
                },
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(sorted_violations(&status), ["reason", "ticket"]);
    let status = expect_code(
        served.release(tenant, &account.id, "bad \u{7} bell").await,
        Code::InvalidArgument,
    );
    assert_eq!(reason(&status), "TNR013");
    let page_too_large = pb::ListAccountsRequest {
        page_size: 101,
        ..Default::default()
    };
    let status = expect_code(
        served
            .accounts()
            .list_accounts(served.request(As::Customer(tenant), page_too_large))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["page_size"]);
    let upper = account.id.to_uppercase();
    let status = expect_code(
        served.get_account(As::Customer(tenant), &upper).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["id"]);
    served.host.shutdown().await;
}

#[tokio::test]
async fn tenants_and_users_are_validated() {
    let served = serve(Backend::Postgres).await;
    let status = expect_code(
        served
            .accounts()
            .create_tenant(served.request(
                As::Operator,
                pb::CreateTenantRequest {
                    idempotency_key: key(),
                    display_name: String::new(),
                    sector: 0,
                    resale_model: common::ResaleModel::Spam as i32,
                    marketplace_ref: "é".to_owned(),
                    admin: Some(pb::NewUser {
                        email: "x".to_owned(),
                        display_name: "ok".to_owned(),
                        idp_subject: String::new(),
                    }),
                },
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        sorted_violations(&status),
        [
            "admin.email",
            "admin.idp_subject",
            "display_name",
            "marketplace_ref",
            "sector"
        ]
    );
    assert_eq!(row_count(&served, "tenant").await, 0);
    served.host.shutdown().await;
}
