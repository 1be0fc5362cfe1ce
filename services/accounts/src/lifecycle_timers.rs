//! The lifecycle timers that outlive orders (domain.md §3.4): at `reopen_until` a closed account becomes
//! `permanently_closed`, and at `billing_ends_at` an unlinking one becomes `unlinked`. Due records are
//! found across tenants and each is moved inside its own tenant's transaction.

use tenure_db::{Db, TenantTx};
use tenure_domain::SharedClock;
use tracing::warn;

use crate::domain::{AccountState, AccountsError, LifecycleEvent};
use crate::store;
use crate::store::accounts::ChangeContext;

/// Due records handled per round; the next round picks up the rest.
const BATCH: u64 = 100;

/// The subject recorded for the timers' transitions.
const TIMER_SUBJECT: &str = "svc:accounts";

/// Moves every record whose timer is due now; returns how many moved. A record that fails is logged
/// and retried next round; the others still move.
pub(crate) async fn run_due(db: &Db, clock: &SharedClock) -> Result<usize, AccountsError> {
    let now = clock.now();
    let finder = store::begin_cross_tenant(db).await?;
    let due = store::accounts::due_timers(&finder, now, BATCH).await?;
    finder.rollback().await?;
    let mut moved = 0;
    for account in due {
        let (id, tenant) = (account.id, account.tenant_id);
        match fire(db, tenant, id, now).await {
            Ok(()) => moved += 1,
            Err(error) => warn!(account_id = %id, error = %error, "lifecycle timer failed"),
        }
    }
    Ok(moved)
}

async fn fire(
    db: &Db,
    tenant: uuid::Uuid,
    id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AccountsError> {
    let tx = TenantTx::begin(db, tenant).await?;
    let Some(account) = store::accounts::find_account(&tx, Some(tenant), id).await? else {
        return Ok(());
    };
    let (event, reason) = match account.state {
        AccountState::Closed => (LifecycleEvent::ExpireReopenWindow, "reopen window ended"),
        AccountState::Unlinking => (LifecycleEvent::EndBilling, "billing transfer ended"),
        // Moved by someone else since it was found due.
        _ => return Ok(()),
    };
    let change = ChangeContext {
        actor_subject: TIMER_SUBJECT.to_owned(),
        actor_role: "service",
        reason: reason.to_owned(),
        order_id: None,
        at: now,
    };
    let moved = account.moved(event, now)?;
    store::accounts::save_move(&tx, &account, &moved, &change).await?;
    tx.commit().await?;
    Ok(())
}
