//! The open balances the billing system reports (seed 001: "check if you have an outstanding bill"), shown
//! on the account and confirmed by the customer before a termination (TNR015).

use std::collections::{BTreeMap, HashSet};

use tenure_domain::{AwsAccountId, Problems};
use tenure_proto::accounts::v1 as pb;

use prost::Message as _;

use crate::api::context::{at, finish_keyed, idempotent, reply};
use crate::api::convert;
use crate::app::{Accounts, BalanceReport, Call};
use crate::domain::{AccountsError, OpenBalance, check_reported_at, field_problem};

/// At most this many balances per report.
const MAX_BALANCES: usize = 500;

impl Accounts {
    pub(crate) async fn report_open_balances(
        &self,
        call: &Call,
        request: pb::ReportOpenBalancesRequest,
    ) -> Result<pb::ReportOpenBalancesResponse, AccountsError> {
        let now = self.now();
        let mut problems = Problems::new();
        if request.balances.is_empty() || request.balances.len() > MAX_BALANCES {
            problems.push(at(
                "balances",
                field_problem("BALANCE_COUNT", "send 1 to 500 balances", "TNR004"),
            ));
        }
        // One balance per AWS account: a second one in the same report is refused (TNR006) rather
        // than left to win by its position.
        let mut reports: BTreeMap<AwsAccountId, OpenBalance> = BTreeMap::new();
        let mut reported = Vec::with_capacity(request.balances.len());
        let mut seen = HashSet::new();
        for (index, raw) in request.balances.iter().enumerate() {
            let field = format!("balances[{index}]");
            let aws_account_id = problems.check(
                format!("{field}.aws_account_id"),
                AwsAccountId::parse(&raw.aws_account_id),
            );
            if aws_account_id.is_some() && !seen.insert(raw.aws_account_id.as_str()) {
                problems.push(at(
                    format!("{field}.aws_account_id"),
                    field_problem(
                        "DUPLICATE_ACCOUNT",
                        "an AWS account is listed more than once",
                        "TNR006",
                    ),
                ));
            }
            let amount = convert::money_from(
                &mut problems,
                &format!("{field}.amount"),
                raw.amount.as_ref(),
            );
            let as_of = problems.check(
                format!("{field}.as_of"),
                convert::instant(raw.as_of.as_ref()).and_then(|at| check_reported_at(at, now)),
            );
            if let Some(id) = &aws_account_id {
                reported.push(id.clone());
            }
            if let (Some(id), Some(amount), Some(as_of)) = (aws_account_id, amount, as_of) {
                reports.insert(id, OpenBalance { amount, as_of });
            }
        }
        // Every id parsed once the checks pass, so `reported` lists the request's ids in its order.
        finish_keyed(problems, &request)?;
        let encode = |report: &BalanceReport| response(report).encode_to_vec();
        let answer = self
            .record_open_balances(call, idempotent(&request, &encode)?, reports, reported)
            .await?;
        reply(answer, response)
    }
}

fn response(report: &BalanceReport) -> pb::ReportOpenBalancesResponse {
    pb::ReportOpenBalancesResponse {
        recorded: report.recorded,
        unknown_aws_account_ids: report
            .unknown_aws_account_ids
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}
