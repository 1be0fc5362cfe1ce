//! TerminateResponsibilityTransfer in the simulation, including a transfer ended before it started.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::{BillingTransfer, CloudResult};

use super::{SandboxCloud, rejected, to_transfer};
use crate::domain::billing;

impl SandboxCloud {
    /// Ends an accepted transfer at `end_at`, the last millisecond of a month no earlier than the current
    /// one. A transfer whose start lies after that end (accepted in December for 1 January, ended in
    /// December) is withdrawn before it ever moved the bill: it ends at its start, zero length, so
    /// nothing reads an end before the start.
    pub(super) async fn terminate_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        let _serial = self.serial.lock().await;
        let mut transfer = self.transfer_seen_by(acting, transfer_id).await?;
        match transfer.status.as_str() {
            "WITHDRAWN" => {
                return Err(rejected(
                    "ResponsibilityTransferAlreadyInStatusException",
                    None,
                    "the transfer is already withdrawn",
                ));
            }
            "ACCEPTED" => {}
            _ => {
                return Err(rejected(
                    "InvalidResponsibilityTransferTransitionException",
                    None,
                    "only an accepted transfer can be terminated",
                ));
            }
        }
        if !billing::is_end_of_month(end_at) {
            return Err(rejected(
                "InvalidInputException",
                Some("END_DATE_NOT_END_OF_MONTH"),
                "the end must be the last millisecond of a month",
            ));
        }
        if end_at < billing::end_of_month(self.now()) {
            return Err(rejected(
                "InvalidInputException",
                Some("END_DATE_TOO_EARLY"),
                "the end is before the end of the current month",
            ));
        }
        transfer.status = "WITHDRAWN".to_owned();
        transfer.end_at = Some(billing::reported_end(transfer.start_at, end_at));
        self.put_transfer(&transfer).await?;
        to_transfer(&transfer)
    }
}
