//! The open balances the billing system reports (seed 001: "check if you have an outstanding bill"), shown
//! on the account and confirmed by the customer before a termination (TNR015).

use std::collections::{BTreeMap, HashSet};

use tenure_domain::AwsAccountId;

use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::domain::{AccountsError, OpenBalance, ResponseSubject};
use crate::store;

/// What a balance report changed: how many balances were recorded, and the reported AWS account ids
/// no live record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BalanceReport {
    pub(crate) recorded: u32,
    pub(crate) unknown_aws_account_ids: Vec<AwsAccountId>,
}

impl Accounts {
    /// Records `reports` (one balance per AWS account id) on the live records that hold those ids,
    /// keeping a stored balance that is not older. `reported` lists every AWS account id of the
    /// request in its order, so the unknown ones are answered as they were sent.
    pub(crate) async fn record_open_balances(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, BalanceReport>,
        reports: BTreeMap<AwsAccountId, OpenBalance>,
        reported: Vec<AwsAccountId>,
    ) -> Result<Answer<BalanceReport>, AccountsError> {
        let tx = store::begin_open_balance_writer(&self.db).await?;
        self.mutate_in(
            tx,
            None,
            call,
            idempotent,
            Target::new("open_balances", "*"),
            async |tx, _now| {
                let ids: Vec<&AwsAccountId> = reports.keys().collect();
                let records = store::balances::live_records(tx, &ids).await?;
                let mut recorded: u32 = 0;
                for record in &records {
                    let Some(report) = record
                        .aws_account_id
                        .as_ref()
                        .and_then(|id| reports.get(id))
                    else {
                        continue;
                    };
                    let newer = record
                        .balance
                        .as_ref()
                        .is_none_or(|stored| stored.is_superseded_by(report.as_of));
                    if newer && store::balances::record(tx, record.id, report).await? {
                        recorded += 1;
                    }
                }
                let known: HashSet<&AwsAccountId> = records
                    .iter()
                    .filter_map(|record| record.aws_account_id.as_ref())
                    .collect();
                let unknown_aws_account_ids = reported
                    .into_iter()
                    .filter(|id| !known.contains(id))
                    .collect();
                // Counts and AWS account ids without a record: nothing of any subject to purge.
                Ok((
                    BalanceReport {
                        recorded,
                        unknown_aws_account_ids,
                    },
                    ResponseSubject::Nothing,
                ))
            },
        )
        .await
    }
}
