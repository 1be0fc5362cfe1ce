//! Open balances reported by billing (seed 001): recorded on every tenant's live record, older reports
//! ignored, each item validated, billing only, and confirmed to the micro before a termination (TNR015).

use chrono::{DateTime, Duration, Utc};
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::support::{
    As, Backend, Served, every_acknowledgement, expect_code, key, reason, serve, serve_tenant,
    timestamp, violated_fields,
};

fn usd(amount_micros: i64) -> common::Money {
    common::Money {
        currency_code: "USD".to_owned(),
        amount_micros,
    }
}

fn item(aws_account_id: &str, amount_micros: i64, as_of: DateTime<Utc>) -> pb::OpenBalanceReport {
    pb::OpenBalanceReport {
        aws_account_id: aws_account_id.to_owned(),
        amount: Some(usd(amount_micros)),
        as_of: Some(timestamp(as_of)),
    }
}

async fn report_items(
    served: &Served,
    who: As,
    balances: Vec<pb::OpenBalanceReport>,
) -> Result<pb::ReportOpenBalancesResponse, Status> {
    Ok(served
        .accounts()
        .report_open_balances(served.request(
            who,
            pb::ReportOpenBalancesRequest {
                idempotency_key: key(),
                balances,
            },
        ))
        .await?
        .into_inner())
}

/// Billing reports one balance in USD.
pub(crate) async fn report(
    served: &Served,
    aws_account_id: &str,
    amount_micros: i64,
    as_of: DateTime<Utc>,
) -> Result<pb::ReportOpenBalancesResponse, Status> {
    report_items(
        served,
        As::Billing,
        vec![item(aws_account_id, amount_micros, as_of)],
    )
    .await
}

fn balance_of(account: &pb::AwsAccount) -> Option<(i64, String, i64)> {
    account.open_balance.as_ref().map(|balance| {
        let amount = balance.amount.as_ref().expect("amount");
        (
            amount.amount_micros,
            amount.currency_code.clone(),
            balance.as_of.expect("as_of").seconds,
        )
    })
}

/// One report reaches the live records of two tenants; unknown accounts are named; an older report
/// changes nothing and a newer one replaces the balance.
pub(crate) async fn report_across_tenants(served: &Served) {
    let a = served.tenant().await;
    let b = served.tenant().await;
    let in_a = served.active_member(a, "820000000001").await;
    let in_b = served.active_member(b, "820000000002").await;
    let now = served.clock_now();
    let day_ago = now - Duration::days(1);
    let first = report_items(
        served,
        As::Billing,
        vec![
            item("820000000001", 123_450_000, day_ago),
            item("820000000099", 5, day_ago),
            item("820000000002", 0, day_ago),
        ],
    )
    .await
    .expect("report");
    assert_eq!(first.recorded, 2);
    assert_eq!(first.unknown_aws_account_ids, ["820000000099"]);
    let read_a = served
        .get_account(As::Customer(a), &in_a.id)
        .await
        .expect("A reads");
    assert_eq!(
        balance_of(&read_a),
        Some((123_450_000, "USD".to_owned(), day_ago.timestamp()))
    );
    let read_b = served
        .get_account(As::Customer(b), &in_b.id)
        .await
        .expect("B reads");
    assert_eq!(
        balance_of(&read_b),
        Some((0, "USD".to_owned(), day_ago.timestamp()))
    );
    let listed = served.list_accounts(As::Customer(a)).await;
    assert_eq!(balance_of(&listed[0]), balance_of(&read_a));

    let older = report(served, "820000000001", 1, day_ago - Duration::hours(1))
        .await
        .expect("an older report is no error");
    assert_eq!(older.recorded, 0);
    assert!(older.unknown_aws_account_ids.is_empty());
    let unchanged = served
        .get_account(As::Customer(a), &in_a.id)
        .await
        .expect("read");
    assert_eq!(balance_of(&unchanged), balance_of(&read_a), "ignored");

    let newer = report(served, "820000000001", 0, now)
        .await
        .expect("a newer report");
    assert_eq!(newer.recorded, 1);
    let settled = served
        .get_account(As::Customer(a), &in_a.id)
        .await
        .expect("read");
    assert_eq!(
        balance_of(&settled),
        Some((0, "USD".to_owned(), now.timestamp()))
    );
}

#[tokio::test]
async fn billing_reports_balances_for_every_tenant() {
    let served = serve(Backend::Postgres).await;
    report_across_tenants(&served).await;
    served.host.shutdown().await;
}

#[tokio::test]
async fn every_balance_is_checked_with_its_path_and_nothing_is_stored() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let account = served.active_member(tenant, "820000000003").await;
    let now = served.clock_now();
    let status = expect_code(
        report_items(
            &served,
            As::Billing,
            vec![
                item("820000000003", 10, now),
                item("82000000003", 10, now),
                pb::OpenBalanceReport {
                    amount: Some(common::Money {
                        currency_code: "usd".to_owned(),
                        amount_micros: 10,
                    }),
                    ..item("820000000004", 10, now)
                },
                item("820000000005", 10, now + Duration::minutes(1)),
                pb::OpenBalanceReport {
                    as_of: None,
                    amount: None,
                    ..item("820000000006", 10, now)
                },
                item("820000000007", 10, DateTime::UNIX_EPOCH),
                item("820000000003", 10, now),
            ],
        )
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        [
            "balances[1].aws_account_id",
            "balances[2].amount.currency_code",
            "balances[3].as_of",
            "balances[4].amount",
            "balances[4].as_of",
            "balances[5].as_of",
            "balances[6].aws_account_id",
        ]
    );
    assert_eq!(reason(&status), "TNR001", "the first problem's code");
    let read = served
        .get_account(As::Customer(tenant), &account.id)
        .await
        .expect("read");
    assert!(read.open_balance.is_none(), "nothing stored");

    for count in [0, 501] {
        let balances = (0..count)
            .map(|index| item(&format!("{:012}", 830_000_000_000_u64 + index), 1, now))
            .collect();
        let status = expect_code(
            report_items(&served, As::Billing, balances).await,
            Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), ["balances"], "{count} balances");
    }
    served.host.shutdown().await;
}

#[tokio::test]
async fn only_billing_reports_balances() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    served.active_member(tenant, "820000000008").await;
    let now = served.clock_now();
    for who in [
        As::Customer(tenant),
        As::Admin(tenant),
        As::Operator,
        As::Orders(tenant),
    ] {
        expect_code(
            report_items(&served, who, vec![item("820000000008", 1, now)]).await,
            Code::PermissionDenied,
        );
    }
    served.host.shutdown().await;
}

async fn check(
    served: &Served,
    tenant: Uuid,
    aws_account_id: &str,
    acknowledged: Option<common::Money>,
) -> Result<pb::CheckTerminationResponse, Status> {
    Ok(served
        .accounts()
        .check_termination(served.request(
            As::Customer(tenant),
            pb::CheckTerminationRequest {
                aws_account_id: aws_account_id.to_owned(),
                mode: common::TerminationMode::Close as i32,
                acknowledgements: every_acknowledgement(),
                order_id: String::new(),
                acknowledged_open_balance: acknowledged,
            },
        ))
        .await?
        .into_inner())
}

async fn begin(
    served: &Served,
    tenant: Uuid,
    aws_account_id: &str,
    acknowledged: Option<common::Money>,
) -> Result<pb::BeginOffboardingResponse, Status> {
    Ok(served
        .accounts()
        .begin_offboarding(served.request(
            As::Orders(tenant),
            pb::BeginOffboardingRequest {
                idempotency_key: key(),
                aws_account_id: aws_account_id.to_owned(),
                order_id: Uuid::new_v4().to_string(),
                mode: common::TerminationMode::Close as i32,
                acknowledgements: every_acknowledgement(),
                reason: String::new(),
                acknowledged_open_balance: acknowledged,
            },
        ))
        .await?
        .into_inner())
}

#[tokio::test]
async fn an_open_balance_must_be_confirmed_to_terminate() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    served.active_member(tenant, "820000000010").await;
    let as_of = served.clock_now() - Duration::days(3);
    report(&served, "820000000010", 123_450_000, as_of)
        .await
        .expect("report");

    let unconfirmed = check(&served, tenant, "820000000010", None)
        .await
        .expect("check");
    assert!(!unconfirmed.eligible);
    let problem = unconfirmed.problems.last().expect("problem");
    assert_eq!(problem.code, "TNR015");
    assert_eq!(
        problem.message,
        format!(
            "Account 820000000010 has an open balance of 123.45 USD (reported {}). \
             Confirm this amount to terminate it.",
            as_of.format("%Y-%m-%d")
        )
    );
    let shown = unconfirmed.open_balance.expect("the balance to confirm");
    assert_eq!(shown.amount, Some(usd(123_450_000)));
    assert_eq!(shown.as_of, Some(timestamp(as_of)));

    let wrong = check(&served, tenant, "820000000010", Some(usd(123_400_000)))
        .await
        .expect("check");
    assert_eq!(wrong.problems.len(), 1);
    assert_eq!(wrong.problems[0].code, "TNR015");
    let other_currency = common::Money {
        currency_code: "EUR".to_owned(),
        amount_micros: 123_450_000,
    };
    let wrong = check(&served, tenant, "820000000010", Some(other_currency))
        .await
        .expect("check");
    assert_eq!(wrong.problems[0].code, "TNR015");
    let confirmed = check(&served, tenant, "820000000010", Some(usd(123_450_000)))
        .await
        .expect("check");
    assert!(confirmed.eligible, "{confirmed:?}");

    let status = expect_code(
        begin(&served, tenant, "820000000010", None).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "TNR015");
    let status = expect_code(
        begin(
            &served,
            tenant,
            "820000000010",
            Some(common::Money {
                currency_code: "us dollars".to_owned(),
                amount_micros: 123_450_000,
            }),
        )
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        ["acknowledged_open_balance.currency_code"]
    );
    let begun = begin(&served, tenant, "820000000010", Some(usd(123_450_000)))
        .await
        .expect("confirmed, the termination begins");
    assert_eq!(
        begun.account.expect("account").state(),
        pb::AccountState::Offboarding
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_settled_or_unreported_balance_needs_no_confirmation() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    served.active_member(tenant, "820000000011").await;
    served.active_member(tenant, "820000000012").await;
    report(&served, "820000000011", 0, served.clock_now())
        .await
        .expect("report");
    let settled = check(&served, tenant, "820000000011", None)
        .await
        .expect("check");
    assert!(settled.eligible, "{settled:?}");
    assert!(settled.open_balance.is_some(), "shown all the same");
    let unreported = check(&served, tenant, "820000000012", None)
        .await
        .expect("check");
    assert!(unreported.eligible);
    assert!(unreported.open_balance.is_none());
    begin(&served, tenant, "820000000011", None)
        .await
        .expect("a settled balance needs no confirmation");
    served.host.shutdown().await;
}
