//! The open balances billing reports on account records, read and written across tenants in the
//! report's own transaction ([`crate::store::begin_open_balance_writer`]).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _};
use tenure_db::TenantTx;
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::{AccountState, AccountsError, OpenBalance};
use crate::store::entity::aws_account;
use crate::store::rows;

/// A live record a balance report may reach: its id, its AWS account id and the balance it holds.
#[derive(Debug, Clone)]
pub(crate) struct BalanceHolder {
    pub(crate) id: Uuid,
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) balance: Option<OpenBalance>,
}

/// The live records of `aws_account_ids`, in every tenant the transaction sees.
pub(crate) async fn live_records(
    tx: &TenantTx,
    aws_account_ids: &[&AwsAccountId],
) -> Result<Vec<BalanceHolder>, AccountsError> {
    aws_account::Entity::find()
        .filter(
            aws_account::Column::AwsAccountId.is_in(aws_account_ids.iter().map(|id| id.as_str())),
        )
        .filter(aws_account::Column::State.is_in(AccountState::live_names()))
        .all(&**tx)
        .await?
        .into_iter()
        .map(|row| {
            let record = rows::account_record(row)?;
            Ok(BalanceHolder {
                id: record.id,
                aws_account_id: record.aws_account_id,
                balance: record.open_balance,
            })
        })
        .collect()
}

/// Records `balance` on record `id` unless it holds a newer one; true when it was recorded. The
/// comparison is part of the update, so two reports racing each other cannot let the older win.
pub(crate) async fn record(
    tx: &TenantTx,
    id: Uuid,
    balance: &OpenBalance,
) -> Result<bool, AccountsError> {
    let updated = aws_account::Entity::update_many()
        .col_expr(
            aws_account::Column::OpenBalanceMicros,
            Expr::value(Some(balance.amount.micros)),
        )
        .col_expr(
            aws_account::Column::OpenBalanceCurrency,
            Expr::value(Some(balance.amount.currency.as_str().to_owned())),
        )
        .col_expr(
            aws_account::Column::OpenBalanceAsOf,
            Expr::value(Some(balance.as_of)),
        )
        .filter(aws_account::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(aws_account::Column::OpenBalanceAsOf.is_null())
                .add(aws_account::Column::OpenBalanceAsOf.lte(balance.as_of)),
        )
        .exec(&**tx)
        .await?;
    Ok(updated.rows_affected == 1)
}
