//! Data-purge as a data owner of its own records: the worker asks it like every other service, and
//! it holds the subject to the tenant the caller acts for, as every other data owner does.

use tenure_domain::purge::{ErasedTable, PurgeScope, PurgeTarget, SurveyedTable};

use crate::app::{Call, PurgeApp};
use crate::domain::{PurgeError, Scope};

/// The subject a purge target names, in the service's own terms.
fn scope_of(target: &PurgeTarget) -> Scope {
    match (target.scope, &target.aws_account_id) {
        (PurgeScope::Account, Some(account)) => Scope::account(target.tenant, account.clone()),
        _ => Scope::tenant(target.tenant),
    }
}

impl PurgeApp {
    /// The subject's rows in the service's own records, all of which a purge keeps.
    pub(crate) async fn own_survey(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, PurgeError> {
        call.tenant_filter(Some(target.tenant))?;
        self.records.survey(&scope_of(target)).await
    }

    /// Nothing the service keeps belongs to a purgeable class, so an execution changes nothing and
    /// every repeat answers the same: there is no effect for a key to guard.
    pub(crate) fn own_erase(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<ErasedTable>, PurgeError> {
        call.tenant_filter(Some(target.tenant))?;
        Ok(Vec::new())
    }
}
