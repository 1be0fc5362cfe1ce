//! The rows of each data class for a purge subject (domain.md §8): counted with a hash of their keys
//! for a plan or a verification, pseudonymised or deleted for an execution. Both read one selection,
//! so a dry run names exactly the rows the execution then touches, and a second execution finds
//! nothing left to do.
//!
//! An account-scope purge covers the finished orders that name the account; a running order (a new
//! transfer of a reopened account, say) keeps what it still needs. A tenant purge covers every order.

use sea_orm::{ConnectionTrait as _, Value};
use tenure_db::TenantTx;
use tenure_db::idempotency::{self, SubjectSelection};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::OrdersError;
use crate::domain::data_class::{DataClass, PurgeAction, PurgeScope, TableClass, order_subject};
use crate::domain::order::OrderDetails;
use crate::domain::saga::state::SagaState;
use crate::store::{account_column, column, json_column, placeholders, statement, to_json};

/// One order in a purge's scope, with what the purge may change in it.
#[derive(Debug, Clone)]
struct ScopedOrder {
    id: Uuid,
    saga_id: Uuid,
    details: OrderDetails,
    placed_by: String,
    failure_message: Option<String>,
    input: serde_json::Value,
    state: SagaState,
}

/// The orders of a purge and the rows around them.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    tenant: Uuid,
    scope: PurgeScope,
    orders: Vec<ScopedOrder>,
}

/// The orders `scope` covers inside the tenant's transaction.
pub(crate) async fn subject(
    tx: &TenantTx,
    scope: PurgeScope,
    tenant: Uuid,
    aws_account_id: Option<&AwsAccountId>,
) -> Result<Subject, OrdersError> {
    let rows = tx
        .query_all_raw(statement(
            tx.get_database_backend(),
            "SELECT o.id, o.aws_account_id, o.details, o.placed_by, o.failure_message, \
             o.finished_at, s.id AS saga_id, s.input, s.state FROM customer_order o \
             JOIN saga s ON s.order_id = o.id WHERE o.tenant_id = $1 ORDER BY o.id",
            vec![tenant.into()],
        ))
        .await?;
    let mut orders = Vec::new();
    for row in rows {
        let details: OrderDetails = json_column(&row, "details")?;
        let finished: Option<chrono::DateTime<chrono::Utc>> = column(&row, "finished_at")?;
        let account = account_column(&row, "aws_account_id")?;
        let in_scope = match (scope, aws_account_id) {
            (PurgeScope::Tenant, _) => true,
            (PurgeScope::Account, Some(wanted)) => {
                finished.is_some()
                    && (account.as_ref() == Some(wanted)
                        || details.known_accounts().contains(wanted))
            }
            (PurgeScope::Account, None) => false,
        };
        if !in_scope {
            continue;
        }
        orders.push(ScopedOrder {
            id: column(&row, "id")?,
            saga_id: column(&row, "saga_id")?,
            details,
            placed_by: column(&row, "placed_by")?,
            failure_message: column(&row, "failure_message")?,
            input: column(&row, "input")?,
            state: json_column(&row, "state")?,
        });
    }
    Ok(Subject {
        tenant,
        scope,
        orders,
    })
}

impl Subject {
    fn order_subjects(&self) -> Vec<String> {
        self.orders
            .iter()
            .map(|order| order_subject(order.id))
            .collect()
    }

    fn saga_ids(&self) -> Vec<Value> {
        self.orders
            .iter()
            .map(|order| order.saga_id.into())
            .collect()
    }

    fn order_ids(&self) -> Vec<Value> {
        self.orders.iter().map(|order| order.id.into()).collect()
    }

    /// The details a purge leaves of an order: without AWS-fetched data for an account, without
    /// anything personal for a tenant.
    fn purged_details(&self, details: &OrderDetails) -> OrderDetails {
        match self.scope {
            PurgeScope::Account => details.fetched_data_removed(),
            PurgeScope::Tenant => details.pseudonymised(),
        }
    }

    fn purged_state(&self, state: &SagaState) -> SagaState {
        match self.scope {
            PurgeScope::Account => state.without_aws_data(),
            PurgeScope::Tenant => state.pseudonymised(),
        }
    }

    fn purged_input(&self, order: &ScopedOrder) -> Result<serde_json::Value, OrdersError> {
        let mut input = order.input.clone();
        if let Some(details) = input.get_mut("details") {
            let current: OrderDetails = serde_json::from_value(details.clone())
                .map_err(|error| OrdersError::Internal(Box::new(error)))?;
            *details = to_json(&self.purged_details(&current))?;
        }
        Ok(input)
    }

    fn saga_holds_data(&self, order: &ScopedOrder) -> Result<bool, OrdersError> {
        Ok(self.purged_input(order)? != order.input
            || self.purged_state(&order.state) != order.state)
    }
}

/// The sorted keys of the subject's rows in `entry`'s table and class that still hold its data.
pub(crate) async fn row_keys(
    tx: &TenantTx,
    subject: &Subject,
    entry: &TableClass,
) -> Result<Vec<String>, OrdersError> {
    let backend = tx.get_database_backend();
    let mut keys: Vec<String> = match (entry.table, entry.class) {
        ("customer_order", DataClass::AwsFetched) => subject
            .orders
            .iter()
            .filter(|order| order.details.holds_fetched_data())
            .map(|order| order.id.to_string())
            .collect(),
        ("customer_order", DataClass::LoginIdentity) => subject
            .orders
            .iter()
            .filter(|order| !order.placed_by.is_empty())
            .map(|order| order.id.to_string())
            .collect(),
        ("customer_order", DataClass::OrderRecord) => subject
            .orders
            .iter()
            .filter(|order| {
                order.details.fetched_data_removed() != order.details.pseudonymised()
                    || order
                        .failure_message
                        .as_deref()
                        .is_some_and(|message| !message.is_empty())
            })
            .map(|order| order.id.to_string())
            .collect(),
        ("saga", DataClass::AwsFetched) => {
            let mut keys = Vec::new();
            for order in &subject.orders {
                if subject.saga_holds_data(order)? {
                    keys.push(order.saga_id.to_string());
                }
            }
            keys
        }
        ("saga_step", DataClass::AwsFetched) => {
            if subject.orders.is_empty() {
                Vec::new()
            } else {
                let sql = format!(
                    "SELECT saga_id, node, direction, input_rev, output FROM saga_step \
                     WHERE saga_id IN ({})",
                    placeholders(1, subject.orders.len())
                );
                let mut keys = Vec::new();
                for row in tx
                    .query_all_raw(statement(backend, &sql, subject.saga_ids()))
                    .await?
                {
                    let output: SagaState = json_column(&row, "output")?;
                    if output != SagaState::default() {
                        let saga: Uuid = column(&row, "saga_id")?;
                        let node: i32 = column(&row, "node")?;
                        let direction: String = column(&row, "direction")?;
                        let rev: i32 = column(&row, "input_rev")?;
                        keys.push(format!("{saga}/{node}/{direction}/{rev}"));
                    }
                }
                keys
            }
        }
        ("saga_lock", DataClass::AwsFetched) => {
            if subject.orders.is_empty() {
                Vec::new()
            } else {
                let sql = format!(
                    "SELECT resource_key FROM saga_lock WHERE saga_id IN ({})",
                    placeholders(1, subject.orders.len())
                );
                tx.query_all_raw(statement(backend, &sql, subject.saga_ids()))
                    .await?
                    .iter()
                    .map(|row| column(row, "resource_key"))
                    .collect::<Result<Vec<String>, _>>()?
            }
        }
        ("order_task", DataClass::LoginIdentity) if subject.scope == PurgeScope::Tenant => {
            if subject.orders.is_empty() {
                Vec::new()
            } else {
                let sql = format!(
                    "SELECT id FROM order_task WHERE order_id IN ({}) \
                     AND (note <> '' OR resolved_by_subject IS NOT NULL \
                     OR survey_comment IS NOT NULL)",
                    placeholders(1, subject.orders.len())
                );
                tx.query_all_raw(statement(backend, &sql, subject.order_ids()))
                    .await?
                    .iter()
                    .map(|row| column::<Uuid>(row, "id").map(|id| id.to_string()))
                    .collect::<Result<Vec<String>, _>>()?
            }
        }
        ("idempotency_record", class) => match responses(subject, class, &subject.order_subjects())
        {
            Some(selection) => record_keys(tx, subject.tenant, selection).await?,
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    keys.sort();
    Ok(keys)
}

/// The stored responses of `class`: those about orders in scope copy their details; every other one
/// of the tenant may name a customer and belongs to a tenant scope only.
fn responses<'a>(
    subject: &Subject,
    class: DataClass,
    order_subjects: &'a [String],
) -> Option<SubjectSelection<'a>> {
    match class {
        DataClass::AwsFetched => Some(SubjectSelection::Only(order_subjects)),
        DataClass::LoginIdentity if subject.scope == PurgeScope::Tenant => {
            Some(SubjectSelection::Except(order_subjects))
        }
        _ => None,
    }
}

async fn record_keys(
    tx: &TenantTx,
    tenant: Uuid,
    selection: SubjectSelection<'_>,
) -> Result<Vec<String>, OrdersError> {
    Ok(
        idempotency::tenant_record_keys(&**tx, &tenant.to_string(), selection)
            .await?
            .into_iter()
            .map(|key| format!("{}|{}|{}", key.tenant_id, key.method, key.key))
            .collect(),
    )
}

/// Purges the subject's rows of `entry` with `action`; returns how many rows changed or went.
pub(crate) async fn purge_rows(
    tx: &TenantTx,
    subject: &Subject,
    entry: &TableClass,
    action: PurgeAction,
) -> Result<u64, OrdersError> {
    if action == PurgeAction::Keep {
        return Ok(0);
    }
    let backend = tx.get_database_backend();
    let keys = row_keys(tx, subject, entry).await?;
    if keys.is_empty() {
        return Ok(0);
    }
    let mut changed = 0u64;
    match (entry.table, entry.class) {
        ("customer_order", class) => {
            for order in subject
                .orders
                .iter()
                .filter(|order| keys.contains(&order.id.to_string()))
            {
                let (sql, values): (&str, Vec<Value>) = match class {
                    DataClass::AwsFetched => (
                        "UPDATE customer_order SET details = $1 WHERE id = $2",
                        vec![
                            to_json(&order.details.fetched_data_removed())?.into(),
                            order.id.into(),
                        ],
                    ),
                    DataClass::LoginIdentity => (
                        "UPDATE customer_order SET placed_by = '' WHERE id = $1",
                        vec![order.id.into()],
                    ),
                    _ => (
                        "UPDATE customer_order SET details = $1, failure_message = NULL \
                         WHERE id = $2",
                        vec![
                            to_json(&order.details.pseudonymised())?.into(),
                            order.id.into(),
                        ],
                    ),
                };
                changed += tx
                    .execute_raw(statement(backend, sql, values))
                    .await?
                    .rows_affected();
            }
        }
        ("saga", _) => {
            for order in subject
                .orders
                .iter()
                .filter(|order| keys.contains(&order.saga_id.to_string()))
            {
                changed += tx
                    .execute_raw(statement(
                        backend,
                        "UPDATE saga SET input = $1, state = $2 WHERE id = $3",
                        vec![
                            subject.purged_input(order)?.into(),
                            to_json(&subject.purged_state(&order.state))?.into(),
                            order.saga_id.into(),
                        ],
                    ))
                    .await?
                    .rows_affected();
            }
        }
        ("saga_step", _) => {
            let sql = format!(
                "UPDATE saga_step SET output = $1 WHERE saga_id IN ({})",
                placeholders(2, subject.orders.len())
            );
            let mut values = vec![to_json(&SagaState::default())?.into()];
            values.extend(subject.saga_ids());
            tx.execute_raw(statement(backend, &sql, values)).await?;
            changed = u64::try_from(keys.len()).unwrap_or(u64::MAX);
        }
        ("saga_lock", _) => {
            let sql = format!(
                "DELETE FROM saga_lock WHERE saga_id IN ({})",
                placeholders(1, subject.orders.len())
            );
            changed = tx
                .execute_raw(statement(backend, &sql, subject.saga_ids()))
                .await?
                .rows_affected();
        }
        ("order_task", _) => {
            let sql = format!(
                "UPDATE order_task SET note = '', resolved_by_subject = NULL, \
                 survey_comment = NULL WHERE order_id IN ({})",
                placeholders(1, subject.orders.len())
            );
            tx.execute_raw(statement(backend, &sql, subject.order_ids()))
                .await?;
            changed = u64::try_from(keys.len()).unwrap_or(u64::MAX);
        }
        ("idempotency_record", class) => {
            let subjects = subject.order_subjects();
            if let Some(selection) = responses(subject, class, &subjects) {
                changed = idempotency::delete_tenant_records(
                    &**tx,
                    &subject.tenant.to_string(),
                    selection,
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(changed)
}
