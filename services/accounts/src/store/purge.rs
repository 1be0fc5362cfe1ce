//! The rows of each data class for a purge subject: counted (with a hash of their keys) for a plan or
//! a verification, deleted or pseudonymised for an execution. Both read the same selection, so a dry
//! run names exactly the rows the real purge then touches.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use tenure_db::TenantTx;
use tenure_db::idempotency::{self, SubjectSelection};
use uuid::Uuid;

use crate::domain::{
    AccountsError, DataClass, PurgeAction, PurgeScope, TableClass, account_subject,
};
use crate::store::entity::{
    account_details, account_transition, app_user, aws_account, cost_record, subscription, tenant,
};

/// Whose rows a purge covers: the records of one AWS account id, or everything of a tenant.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    tenant: Uuid,
    whole_tenant: bool,
    /// The account records in scope (every record of the AWS account id, tombstones included).
    accounts: Vec<Uuid>,
}

impl Subject {
    /// The idempotency-record subjects of the account records in scope.
    fn account_subjects(&self) -> Vec<String> {
        self.accounts.iter().copied().map(account_subject).collect()
    }

    /// The stored responses of `class`: those about the account records in scope hold their
    /// AWS-fetched data; every other one of the tenant may hold login identity and belongs to a
    /// tenant scope only. `None` when the class has none in this scope.
    fn responses<'a>(
        &self,
        class: DataClass,
        account_subjects: &'a [String],
    ) -> Option<SubjectSelection<'a>> {
        match class {
            DataClass::AwsFetched => Some(SubjectSelection::Only(account_subjects)),
            DataClass::LoginIdentity if self.whole_tenant => {
                Some(SubjectSelection::Except(account_subjects))
            }
            _ => None,
        }
    }
}

/// Resolves the subject inside the tenant's transaction.
pub(crate) async fn subject(
    tx: &TenantTx,
    scope: PurgeScope,
    tenant: Uuid,
    aws_account_id: Option<&str>,
) -> Result<Subject, AccountsError> {
    let mut query = aws_account::Entity::find()
        .select_only()
        .column(aws_account::Column::Id)
        .filter(aws_account::Column::TenantId.eq(tenant));
    if scope == PurgeScope::Account {
        query =
            query.filter(aws_account::Column::AwsAccountId.eq(aws_account_id.unwrap_or_default()));
    }
    let accounts = query.into_tuple::<Uuid>().all(&**tx).await?;
    Ok(Subject {
        tenant,
        whole_tenant: scope == PurgeScope::Tenant,
        accounts,
    })
}

fn fetched_columns_present() -> Condition {
    Condition::any()
        .add(aws_account::Column::Name.is_not_null())
        .add(aws_account::Column::RootEmail.is_not_null())
        .add(aws_account::Column::RootEmailKey.is_not_null())
        .add(aws_account::Column::OrganizationId.is_not_null())
        .add(aws_account::Column::ParentId.is_not_null())
}

fn open_balance_present() -> Condition {
    Condition::any()
        .add(aws_account::Column::OpenBalanceMicros.is_not_null())
        .add(aws_account::Column::OpenBalanceCurrency.is_not_null())
        .add(aws_account::Column::OpenBalanceAsOf.is_not_null())
}

fn personal_transition_fields_present() -> Condition {
    Condition::any()
        .add(account_transition::Column::ActorSubject.ne(""))
        .add(account_transition::Column::Reason.ne(""))
}

/// The sorted keys of the subject's rows in `entry`'s table and class.
pub(crate) async fn row_keys(
    tx: &TenantTx,
    subject: &Subject,
    entry: &TableClass,
) -> Result<Vec<String>, AccountsError> {
    let accounts = subject.accounts.clone();
    let mut keys: Vec<String> = match (entry.table, entry.class) {
        ("account_details", DataClass::AwsFetched) => uuid_keys(
            account_details::Entity::find()
                .select_only()
                .column(account_details::Column::AccountId)
                .filter(account_details::Column::AccountId.is_in(accounts))
                .into_tuple::<Uuid>()
                .all(&**tx)
                .await?,
        ),
        ("aws_account", DataClass::AwsFetched) => uuid_keys(
            aws_account::Entity::find()
                .select_only()
                .column(aws_account::Column::Id)
                .filter(aws_account::Column::Id.is_in(accounts))
                .filter(fetched_columns_present())
                .into_tuple::<Uuid>()
                .all(&**tx)
                .await?,
        ),
        ("aws_account", DataClass::CostData) => uuid_keys(
            aws_account::Entity::find()
                .select_only()
                .column(aws_account::Column::Id)
                .filter(aws_account::Column::Id.is_in(accounts))
                .filter(open_balance_present())
                .into_tuple::<Uuid>()
                .all(&**tx)
                .await?,
        ),
        ("aws_account", DataClass::AccountTombstone) => uuid_keys(accounts),
        ("cost_record", DataClass::CostData) => int_keys(
            cost_record::Entity::find()
                .select_only()
                .column(cost_record::Column::Id)
                .filter(cost_record::Column::AccountId.is_in(accounts))
                .into_tuple::<i64>()
                .all(&**tx)
                .await?,
        ),
        ("app_user", DataClass::LoginIdentity) if subject.whole_tenant => uuid_keys(
            app_user::Entity::find()
                .select_only()
                .column(app_user::Column::Id)
                .filter(app_user::Column::TenantId.eq(subject.tenant))
                .into_tuple::<Uuid>()
                .all(&**tx)
                .await?,
        ),
        ("tenant", DataClass::LoginIdentity) if subject.whole_tenant => uuid_keys(
            tenant::Entity::find()
                .select_only()
                .column(tenant::Column::Id)
                .filter(tenant::Column::Id.eq(subject.tenant))
                .filter(tenant::Column::DisplayName.ne(""))
                .into_tuple::<Uuid>()
                .all(&**tx)
                .await?,
        ),
        ("account_transition", DataClass::LoginIdentity) => int_keys(
            account_transition::Entity::find()
                .select_only()
                .column(account_transition::Column::Id)
                .filter(account_transition::Column::AccountId.is_in(accounts))
                .filter(personal_transition_fields_present())
                .into_tuple::<i64>()
                .all(&**tx)
                .await?,
        ),
        ("account_transition", DataClass::AccountTombstone) => int_keys(
            account_transition::Entity::find()
                .select_only()
                .column(account_transition::Column::Id)
                .filter(account_transition::Column::AccountId.is_in(accounts))
                .into_tuple::<i64>()
                .all(&**tx)
                .await?,
        ),
        ("subscription", DataClass::AccountTombstone) => uuid_keys(
            subscription::Entity::find()
                .select_only()
                .column(subscription::Column::Id)
                .filter(subscription::Column::AccountId.is_in(accounts))
                .into_tuple::<Uuid>()
                .all(&**tx)
                .await?,
        ),
        ("idempotency_record", class) => {
            let subjects = subject.account_subjects();
            match subject.responses(class, &subjects) {
                Some(selection) => {
                    idempotency::tenant_record_keys(&**tx, &subject.tenant.to_string(), selection)
                        .await?
                        .into_iter()
                        .map(|record| {
                            format!("{}|{}|{}", record.tenant_id, record.method, record.key)
                        })
                        .collect()
                }
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    keys.sort();
    Ok(keys)
}

/// Deletes or pseudonymises the subject's rows in `entry`'s table and class, returning how many rows
/// changed; rows already purged do not match again, so a repeat changes nothing.
pub(crate) async fn purge_rows(
    tx: &TenantTx,
    subject: &Subject,
    entry: &TableClass,
    action: PurgeAction,
) -> Result<u64, AccountsError> {
    let accounts = subject.accounts.clone();
    let affected = match (entry.table, entry.class, action) {
        (_, _, PurgeAction::Keep) => 0,
        ("account_details", DataClass::AwsFetched, PurgeAction::Delete) => {
            account_details::Entity::delete_many()
                .filter(account_details::Column::AccountId.is_in(accounts))
                .exec(&**tx)
                .await?
                .rows_affected
        }
        ("aws_account", DataClass::AwsFetched, PurgeAction::Pseudonymise) => {
            aws_account::Entity::update_many()
                .col_expr(
                    aws_account::Column::Name,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    aws_account::Column::RootEmail,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    aws_account::Column::RootEmailKey,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    aws_account::Column::OrganizationId,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    aws_account::Column::ParentId,
                    Expr::value(Option::<String>::None),
                )
                .filter(aws_account::Column::Id.is_in(accounts))
                .filter(fetched_columns_present())
                .exec(&**tx)
                .await?
                .rows_affected
        }
        ("aws_account", DataClass::CostData, PurgeAction::Pseudonymise) => {
            aws_account::Entity::update_many()
                .col_expr(
                    aws_account::Column::OpenBalanceMicros,
                    Expr::value(Option::<i64>::None),
                )
                .col_expr(
                    aws_account::Column::OpenBalanceCurrency,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    aws_account::Column::OpenBalanceAsOf,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(aws_account::Column::Id.is_in(accounts))
                .filter(open_balance_present())
                .exec(&**tx)
                .await?
                .rows_affected
        }
        ("cost_record", DataClass::CostData, PurgeAction::Delete) => {
            cost_record::Entity::delete_many()
                .filter(cost_record::Column::AccountId.is_in(accounts))
                .exec(&**tx)
                .await?
                .rows_affected
        }
        ("app_user", DataClass::LoginIdentity, PurgeAction::Delete) if subject.whole_tenant => {
            app_user::Entity::delete_many()
                .filter(app_user::Column::TenantId.eq(subject.tenant))
                .exec(&**tx)
                .await?
                .rows_affected
        }
        ("tenant", DataClass::LoginIdentity, PurgeAction::Pseudonymise) if subject.whole_tenant => {
            tenant::Entity::update_many()
                .col_expr(tenant::Column::DisplayName, Expr::value(""))
                .filter(tenant::Column::Id.eq(subject.tenant))
                .filter(tenant::Column::DisplayName.ne(""))
                .exec(&**tx)
                .await?
                .rows_affected
        }
        ("account_transition", DataClass::LoginIdentity, PurgeAction::Pseudonymise) => {
            account_transition::Entity::update_many()
                .col_expr(account_transition::Column::ActorSubject, Expr::value(""))
                .col_expr(account_transition::Column::Reason, Expr::value(""))
                .filter(account_transition::Column::AccountId.is_in(accounts))
                .filter(personal_transition_fields_present())
                .exec(&**tx)
                .await?
                .rows_affected
        }
        ("idempotency_record", class, PurgeAction::Delete) => {
            let subjects = subject.account_subjects();
            match subject.responses(class, &subjects) {
                Some(selection) => {
                    idempotency::delete_tenant_records(
                        &**tx,
                        &subject.tenant.to_string(),
                        selection,
                    )
                    .await?
                }
                None => 0,
            }
        }
        _ => 0,
    };
    Ok(affected)
}

/// Notes on the records in scope that `purge_id` ran here, when it is the purge their removal
/// scheduled: from now on the removal cannot be undone, and the AWS account id is free for the tenant
/// again. A repeat finds nothing left to note.
pub(crate) async fn note_removal_purged(
    tx: &TenantTx,
    subject: &Subject,
    purge_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), AccountsError> {
    aws_account::Entity::update_many()
        .col_expr(aws_account::Column::RemovalPurgedAt, Expr::value(Some(at)))
        .filter(aws_account::Column::Id.is_in(subject.accounts.clone()))
        .filter(aws_account::Column::RemovalPurgeId.eq(purge_id))
        .filter(aws_account::Column::RemovalPurgedAt.is_null())
        .exec(&**tx)
        .await?;
    Ok(())
}

fn uuid_keys(ids: Vec<Uuid>) -> Vec<String> {
    ids.into_iter().map(|id| id.to_string()).collect()
}

fn int_keys(ids: Vec<i64>) -> Vec<String> {
    ids.into_iter().map(|id| id.to_string()).collect()
}
