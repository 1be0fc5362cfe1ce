//! The purge policy of domain.md §8: what a scope purges, and when.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::settings::{MAX_PURGE_DAYS, ScheduleSettings};

pub(crate) use tenure_domain::purge::{DataClass, PurgeAction};

/// Account or tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ScopeKind {
    Account,
    Tenant,
}

impl ScopeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Account => "account",
            ScopeKind::Tenant => "tenant",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        match raw {
            "account" => Some(ScopeKind::Account),
            "tenant" => Some(ScopeKind::Tenant),
            _ => None,
        }
    }
}

/// What a purge or a legal hold covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    pub(crate) tenant: Uuid,
    /// Set for account scope only.
    pub(crate) account: Option<AwsAccountId>,
}

impl Scope {
    pub(crate) fn tenant(tenant: Uuid) -> Self {
        Self {
            tenant,
            account: None,
        }
    }

    pub(crate) fn account(tenant: Uuid, account: AwsAccountId) -> Self {
        Self {
            tenant,
            account: Some(account),
        }
    }

    pub(crate) fn kind(&self) -> ScopeKind {
        if self.account.is_some() {
            ScopeKind::Account
        } else {
            ScopeKind::Tenant
        }
    }

    /// The one key per subject under which at most one purge may be pending at a time.
    pub(crate) fn key(&self) -> String {
        match &self.account {
            Some(account) => format!("account:{}:{}", self.tenant, account.as_str()),
            None => format!("tenant:{}", self.tenant),
        }
    }

    /// True when a legal hold on `self` blocks a purge of `purge`: a tenant hold blocks every purge in
    /// the tenant, an account hold blocks that account's purge and the tenant purge that would take
    /// the account's data with it.
    pub(crate) fn holds(&self, purge: &Scope) -> bool {
        self.tenant == purge.tenant
            && match (&self.account, &purge.account) {
                (Some(held), Some(purged)) => held == purged,
                _ => true,
            }
    }
}

/// Why a purge was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PurgeReason {
    AccountRemoved,
    TenantUnsubscribed,
    SupportRequest,
}

impl PurgeReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PurgeReason::AccountRemoved => "account_removed",
            PurgeReason::TenantUnsubscribed => "tenant_unsubscribed",
            PurgeReason::SupportRequest => "support_request",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        [
            PurgeReason::AccountRemoved,
            PurgeReason::TenantUnsubscribed,
            PurgeReason::SupportRequest,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == raw)
    }

    /// The scope each policy trigger applies to; a support request may name either.
    pub(crate) fn fits(self, kind: ScopeKind) -> bool {
        match self {
            PurgeReason::AccountRemoved => kind == ScopeKind::Account,
            PurgeReason::TenantUnsubscribed => kind == ScopeKind::Tenant,
            PurgeReason::SupportRequest => true,
        }
    }
}

/// The classes a purge of `kind` deletes (G14): an account keeps its tenant's login information, a
/// tenant loses everything personal. Tombstones, audit and operational records are never purged.
pub(crate) fn policy_classes(kind: ScopeKind) -> Vec<DataClass> {
    match kind {
        ScopeKind::Account => vec![DataClass::AwsFetched, DataClass::CostData],
        ScopeKind::Tenant => vec![
            DataClass::AwsFetched,
            DataClass::CostData,
            DataClass::LoginIdentity,
            DataClass::OrderRecord,
        ],
    }
}

/// When a purge triggered at `triggered_at` falls due, and the latest moment the policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) due_at: DateTime<Utc>,
    pub(crate) deadline: DateTime<Utc>,
}

impl Schedule {
    /// The schedule for a purge of `kind` for `reason`. A support request is the deletion request
    /// itself, so it is due at once.
    pub(crate) fn of(
        settings: &ScheduleSettings,
        kind: ScopeKind,
        reason: PurgeReason,
        triggered_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let deadline = triggered_at + Duration::days(i64::from(MAX_PURGE_DAYS));
        let days = match kind {
            ScopeKind::Account => settings.account_purge_days,
            ScopeKind::Tenant => settings.tenant_purge_days,
        };
        let due_at = match reason {
            PurgeReason::SupportRequest => now.min(deadline),
            _ => (triggered_at + Duration::days(i64::from(days.min(MAX_PURGE_DAYS)))).min(deadline),
        };
        Self { due_at, deadline }
    }
}

/// The rows of one table in one class, as a data owner counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TableCount {
    pub(crate) service: String,
    pub(crate) data_class: DataClass,
    pub(crate) table: String,
    pub(crate) action: PurgeAction,
    pub(crate) rows: u64,
    pub(crate) key_hash: String,
}

impl TableCount {
    /// The identity of the line, without its counts: two plans list the same lines in the same order.
    pub(crate) fn line(&self) -> (&str, DataClass, &str) {
        (&self.service, self.data_class, &self.table)
    }
}

/// SHA-256 over the lines the purge acts on (deleted or pseudonymised), in a fixed order, hex: two
/// plans with the same hash name the same rows in every table of every data owner. Kept lines are
/// left out: they include the purge's own audit trail, which grows as the purge runs.
pub(crate) fn manifest_hash(entries: &[TableCount]) -> String {
    let mut lines: Vec<&TableCount> = entries
        .iter()
        .filter(|entry| entry.action != PurgeAction::Keep)
        .collect();
    lines.sort_by(|left, right| left.line().cmp(&right.line()));
    let mut digest = Sha256::new();
    for entry in lines {
        digest.update(
            format!(
                "{}\t{:?}\t{}\t{:?}\t{}\t{}\n",
                entry.service,
                entry.data_class,
                entry.table,
                entry.action,
                entry.rows,
                entry.key_hash
            )
            .as_bytes(),
        );
    }
    hex::encode(digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AwsAccountId {
        AwsAccountId::parse("123456789012").unwrap_or_else(|problem| panic!("{problem:?}"))
    }

    #[test]
    fn an_account_purge_never_touches_login_identity_and_a_tenant_purge_always_does() {
        assert!(!policy_classes(ScopeKind::Account).contains(&DataClass::LoginIdentity));
        assert!(policy_classes(ScopeKind::Tenant).contains(&DataClass::LoginIdentity));
        for kind in [ScopeKind::Account, ScopeKind::Tenant] {
            let classes = policy_classes(kind);
            for kept in [
                DataClass::AccountTombstone,
                DataClass::Audit,
                DataClass::Operational,
            ] {
                assert!(!classes.contains(&kept), "{kind:?} purges {kept:?}");
            }
            assert!(classes.contains(&DataClass::AwsFetched));
            assert!(classes.contains(&DataClass::CostData));
        }
    }

    #[test]
    fn purges_fall_due_within_the_deadline() {
        let triggered = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let now = triggered + Duration::hours(1);
        let settings = ScheduleSettings::default();
        let account = Schedule::of(
            &settings,
            ScopeKind::Account,
            PurgeReason::AccountRemoved,
            triggered,
            now,
        );
        assert_eq!(account.due_at, triggered + Duration::days(30));
        assert_eq!(account.deadline, triggered + Duration::days(30));
        let shorter = ScheduleSettings {
            account_purge_days: 7,
            ..settings.clone()
        };
        let early = Schedule::of(
            &shorter,
            ScopeKind::Account,
            PurgeReason::AccountRemoved,
            triggered,
            now,
        );
        assert_eq!(early.due_at, triggered + Duration::days(7));
        let support = Schedule::of(
            &settings,
            ScopeKind::Tenant,
            PurgeReason::SupportRequest,
            triggered,
            now,
        );
        assert_eq!(support.due_at, now);
    }

    #[test]
    fn a_trigger_that_lies_ahead_counts_from_itself_and_is_never_overdue_on_arrival() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let transfer_ends = now + Duration::days(20);
        let settings = ScheduleSettings {
            account_purge_days: 10,
            ..ScheduleSettings::default()
        };
        let schedule = Schedule::of(
            &settings,
            ScopeKind::Account,
            PurgeReason::AccountRemoved,
            transfer_ends,
            now,
        );
        assert_eq!(schedule.due_at, transfer_ends + Duration::days(10));
        assert_eq!(schedule.deadline, transfer_ends + Duration::days(30));
        assert!(schedule.deadline > now && schedule.due_at > now);
        // A support request is the deletion request itself: due at once, well inside the deadline.
        let support = Schedule::of(
            &settings,
            ScopeKind::Account,
            PurgeReason::SupportRequest,
            transfer_ends,
            now,
        );
        assert_eq!(support.due_at, now);
    }

    #[test]
    fn holds_cover_their_tenant_and_the_purges_that_would_take_their_account() {
        let tenant = Uuid::new_v4();
        let held_account = Scope::account(tenant, account());
        let whole_tenant = Scope::tenant(tenant);
        assert!(held_account.holds(&held_account));
        assert!(held_account.holds(&whole_tenant));
        assert!(whole_tenant.holds(&held_account));
        let other = AwsAccountId::parse("210987654321").unwrap_or_else(|p| panic!("{p:?}"));
        assert!(!held_account.holds(&Scope::account(tenant, other)));
        assert!(!whole_tenant.holds(&Scope::tenant(Uuid::new_v4())));
    }

    #[test]
    fn the_manifest_hash_ignores_order_and_sees_every_count() {
        let line = |table: &str, rows| TableCount {
            service: "accounts".to_owned(),
            data_class: DataClass::AwsFetched,
            table: table.to_owned(),
            action: PurgeAction::Delete,
            rows,
            key_hash: "k".to_owned(),
        };
        let plan = vec![line("a", 1), line("b", 2)];
        let reversed = vec![line("b", 2), line("a", 1)];
        assert_eq!(manifest_hash(&plan), manifest_hash(&reversed));
        assert_ne!(
            manifest_hash(&plan),
            manifest_hash(&[line("a", 1), line("b", 3)])
        );
    }
}
