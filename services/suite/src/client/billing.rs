//! `tenure billing`: what the billing system tells the platform, with a billing token. Today that is
//! the open balance of each AWS account, which a customer confirms before terminating it (TNR015).

use std::str::FromStr as _;

use tenure_domain::{Clock as _, SystemClock};
use tenure_proto::accounts::v1 as pb;

use super::connect::{Session, idempotency_key};
use super::errors::Answer as _;
use super::money;
use super::render::{Printer, key_values};
use crate::cli::{BillingCommand, ReportBalance};

pub(super) async fn run(
    command: BillingCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        BillingCommand::ReportBalance(report) => {
            let answer = report_balance(&session, report).await?;
            if printer.is_json() {
                return printer.json_line(&answer);
            }
            // Written out rather than flattened: a count of 0 and an empty list are answers here.
            let unknown = if answer.unknown_aws_account_ids.is_empty() {
                "-".to_owned()
            } else {
                answer.unknown_aws_account_ids.join(", ")
            };
            printer.note(
                key_values(&[
                    ("recorded".to_owned(), answer.recorded.to_string()),
                    ("unknown_aws_account_ids".to_owned(), unknown),
                ])
                .trim_end(),
            )
        }
    }
}

/// Reports one account's open balance.
async fn report_balance(
    session: &Session,
    report: ReportBalance,
) -> anyhow::Result<pb::ReportOpenBalancesResponse> {
    let as_of = report.as_of.unwrap_or_else(now);
    Ok(session
        .accounts()?
        .report_open_balances(pb::ReportOpenBalancesRequest {
            idempotency_key: idempotency_key(report.key.idempotency_key.as_deref()),
            balances: vec![pb::OpenBalanceReport {
                aws_account_id: report.account,
                amount: Some(money::money(report.amount, report.currency)),
                as_of: Some(as_of),
            }],
        })
        .await
        .answer()?)
}

/// This machine's time, to the second: a balance computed now. Whole seconds keep a clock running a
/// little ahead of the server's from putting the report in its future.
fn now() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: SystemClock.now().timestamp(),
        nanos: 0,
    }
}

/// Parses an RFC 3339 time such as `2026-02-28T23:59:59Z` (a bare date is its midnight in UTC).
pub fn parse_time(text: &str) -> Result<prost_types::Timestamp, String> {
    prost_types::Timestamp::from_str(text).map_err(|_| {
        format!("{text:?} is not an RFC 3339 time: write it like 2026-02-28T23:59:59Z")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339() {
        let parsed = parse_time("2026-02-28T23:59:59Z").expect("time");
        assert_eq!(parsed.to_string(), "2026-02-28T23:59:59Z");
        // A bare date is its midnight in UTC.
        assert_eq!(
            parse_time("2026-02-28").expect("date").to_string(),
            "2026-02-28T00:00:00Z"
        );
        assert!(parse_time("yesterday").is_err());
    }
}
