use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;
use tenure_domain::AwsAccountId;

/// Settings of the orders service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersSettings {
    /// Where the service keeps its data: the `orders` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
    /// How the saga engine runs.
    pub engine: EngineSettings,
    /// How long each kind of order may take before its point of no return, and how long a query or
    /// a manual task may stay open.
    pub deadlines: DeadlineSettings,
    /// The platform organization (its management account) new accounts are created in when a tenant
    /// has no platform payer of its own registered in accounts; none makes such orders wait for
    /// operations.
    pub default_management_account_id: Option<String>,
    /// Terminations wait for operations to confirm with the customer first (domain.md §3.4, T3).
    pub require_ops_confirmation: bool,
    /// The regions the Essentials StackSet is deployed to.
    pub baseline_regions: Vec<String>,
    /// Caps per tenant on orders in progress and on open streams.
    pub limits: LimitSettings,
}

impl Default for OrdersSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("orders"),
            engine: EngineSettings::default(),
            deadlines: DeadlineSettings::default(),
            default_management_account_id: None,
            require_ops_confirmation: true,
            baseline_regions: vec!["us-east-1".to_owned()],
            limits: LimitSettings::default(),
        }
    }
}

/// Caps that keep one tenant from taking more than its share (quality.md §1.7): orders in progress,
/// counted in the database when an order is placed, and open streams, counted per replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// New-account orders one tenant may have in progress at once (API6: scripted mass account
    /// creation).
    pub new_account_orders_in_flight: u32,
    /// Orders of every kind one tenant may have in progress at once.
    pub orders_in_flight: u32,
    /// `WatchOrder` streams one tenant may hold open on one replica.
    pub watch_streams_per_tenant: u32,
    /// `OrderEvents/Subscribe` streams one principal may hold open on one replica.
    pub event_streams_per_principal: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            new_account_orders_in_flight: 10,
            orders_in_flight: 100,
            watch_streams_per_tenant: 5,
            event_streams_per_principal: 20,
        }
    }
}

/// How the saga engine runs on this replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// The longest an idle worker sleeps before it looks for due sagas (work made due by this
    /// replica wakes it at once).
    pub wake_interval_ms: u64,
    /// Sagas one replica runs at the same time.
    pub concurrency: usize,
    /// How long a claim holds a saga, in real seconds; the worker renews it while a call runs, and a
    /// crashed replica's sagas are taken over once it lapses.
    pub lease_secs: u64,
    /// How often an AWS operation in progress is looked at again.
    pub aws_poll_secs: u64,
    /// How often a billing-transfer invitation is checked (domain.md B5: 15 minutes).
    pub transfer_poll_secs: u64,
    /// How often the customer's bootstrap role is checked (B6: 30 minutes).
    pub bootstrap_poll_secs: u64,
    /// How often organization invitations are checked (E4: hourly).
    pub invitation_poll_secs: u64,
    /// How often an account being closed is checked (T8).
    pub closure_poll_secs: u64,
    /// The first retry delay; it doubles per attempt up to the caps.
    pub retry_base_ms: u64,
    /// The longest delay between two forward retries.
    pub retry_cap_secs: u64,
    /// The longest delay between two attempts of an undo, which never gives up.
    pub undo_cap_secs: u64,
    /// Failed undo attempts after which a saga shows `compensation_stuck` and pages.
    pub stuck_after_attempts: u32,
    /// How often the gauges read from the database (`saga_active`, the stream backlog) are
    /// refreshed.
    pub gauge_interval_ms: u64,
    /// How often follow-ups past their deadline (an unanswered survey) are marked expired.
    pub follow_up_interval_ms: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            wake_interval_ms: 500,
            concurrency: 64,
            // A dead replica's sagas move on within ~10 s (sagas.md T6); fencing keeps a stalled
            // but living one from committing after its lease was taken.
            lease_secs: 8,
            aws_poll_secs: 10,
            transfer_poll_secs: 15 * 60,
            bootstrap_poll_secs: 30 * 60,
            invitation_poll_secs: 3600,
            closure_poll_secs: 60,
            retry_base_ms: 1000,
            retry_cap_secs: 15 * 60,
            undo_cap_secs: 3600,
            stuck_after_attempts: 10,
            gauge_interval_ms: 5000,
            follow_up_interval_ms: 60_000,
        }
    }
}

/// Deadlines in days (domain.md §3.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineSettings {
    pub new_account_days: u32,
    pub billing_transfer_days: u32,
    pub organization_transfer_days: u32,
    pub terminate_days: u32,
    pub query_days: u32,
    pub task_days: u32,
    /// How long a satisfaction survey stays open before it counts as not answered.
    pub survey_days: u32,
}

impl Default for DeadlineSettings {
    fn default() -> Self {
        Self {
            new_account_days: 7,
            billing_transfer_days: 60,
            organization_transfer_days: 90,
            terminate_days: 60,
            query_days: 30,
            task_days: 30,
            survey_days: 14,
        }
    }
}

impl OrdersSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.database.problems("orders.database");
        if let Some(id) = &self.default_management_account_id
            && AwsAccountId::parse(id).is_err()
        {
            problems.push(
                "orders.default_management_account_id: an AWS account id is exactly 12 digits"
                    .to_owned(),
            );
        }
        let engine = &self.engine;
        if engine.concurrency == 0 {
            problems.push("orders.engine.concurrency: at least 1".to_owned());
        }
        if engine.lease_secs < 2 {
            problems.push("orders.engine.lease_secs: at least 2 seconds".to_owned());
        }
        if engine.wake_interval_ms == 0 {
            problems.push("orders.engine.wake_interval_ms: at least 1".to_owned());
        }
        if engine.gauge_interval_ms < 100 {
            problems.push("orders.engine.gauge_interval_ms: at least 100".to_owned());
        }
        if engine.follow_up_interval_ms < 10 {
            problems.push("orders.engine.follow_up_interval_ms: at least 10".to_owned());
        }
        if engine.retry_base_ms == 0 {
            problems.push("orders.engine.retry_base_ms: at least 1".to_owned());
        }
        let deadlines = &self.deadlines;
        for (name, days) in [
            ("new_account_days", deadlines.new_account_days),
            ("billing_transfer_days", deadlines.billing_transfer_days),
            (
                "organization_transfer_days",
                deadlines.organization_transfer_days,
            ),
            ("terminate_days", deadlines.terminate_days),
            ("query_days", deadlines.query_days),
            ("task_days", deadlines.task_days),
            ("survey_days", deadlines.survey_days),
        ] {
            if days == 0 {
                problems.push(format!("orders.deadlines.{name}: at least 1 day"));
            }
        }
        let limits = &self.limits;
        for (name, cap) in [
            (
                "new_account_orders_in_flight",
                limits.new_account_orders_in_flight,
            ),
            ("orders_in_flight", limits.orders_in_flight),
            ("watch_streams_per_tenant", limits.watch_streams_per_tenant),
            (
                "event_streams_per_principal",
                limits.event_streams_per_principal,
            ),
        ] {
            if cap == 0 {
                problems.push(format!("orders.limits.{name}: at least 1"));
            }
        }
        if self.baseline_regions.is_empty() || self.baseline_regions.len() > 20 {
            problems.push("orders.baseline_regions: 1 to 20 regions".to_owned());
        }
        problems
    }
}
