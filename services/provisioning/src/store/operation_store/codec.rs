//! An operation to and from its row.

use sea_orm::QueryResult;
use sea_orm::sea_query::Expr;
use tenure_db::{DbError, ErrorKind};
use tenure_domain::AwsAccountId;

use crate::domain::operation::{
    Operation, OperationError, OperationRequest, OperationState, Progress,
};

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(value)
        .map_err(|error| DbError::with_source(ErrorKind::Other, "encoding an operation", error))
}

pub(super) fn values(operation: &Operation) -> Result<Vec<Expr>, DbError> {
    let error = operation.error.as_ref();
    Ok(vec![
        Expr::val(operation.id),
        Expr::val(operation.tenant_id),
        Expr::val(operation.kind().as_str()),
        Expr::val(operation.state.as_str()),
        Expr::val(operation.idempotency_key.as_str()),
        Expr::val(operation.caller.as_str()),
        Expr::val(operation.request_hash.clone()),
        Expr::val(operation.aws_account_id.as_ref().map(ToString::to_string)),
        Expr::val(json(&operation.request)?),
        Expr::val(Some(json(&operation.progress)?)),
        Expr::val(error.and_then(|error| error.code.clone())),
        Expr::val(error.and_then(|error| error.aws_code.clone())),
        Expr::val(error.map(|error| error.message.clone())),
        Expr::val(i32::try_from(operation.aws_calls).unwrap_or(i32::MAX)),
        Expr::val(operation.next_check_at),
        Expr::val(operation.created_at),
        Expr::val(operation.updated_at),
    ])
}

pub(super) fn malformed(what: &'static str) -> DbError {
    DbError::new(ErrorKind::Other, what)
}

pub(super) fn decode(row: &QueryResult) -> Result<Operation, DbError> {
    let request: serde_json::Value = row.try_get("", "request")?;
    let request: OperationRequest =
        serde_json::from_value(request).map_err(|_| malformed("stored operation request"))?;
    let progress: Option<serde_json::Value> = row.try_get("", "result")?;
    let progress: Progress = match progress {
        Some(value) => {
            serde_json::from_value(value).map_err(|_| malformed("stored operation progress"))?
        }
        None => Progress::default(),
    };
    let state: String = row.try_get("", "state")?;
    let state = OperationState::parse(&state).ok_or_else(|| malformed("stored state"))?;
    let error_message: Option<String> = row.try_get("", "error_message")?;
    let error = error_message.map(|message| -> Result<OperationError, DbError> {
        Ok(OperationError {
            code: row.try_get("", "error_code")?,
            aws_code: row.try_get("", "aws_code")?,
            message,
        })
    });
    let aws_calls: i32 = row.try_get("", "aws_calls")?;
    let aws_account_id: Option<String> = row.try_get("", "aws_account_id")?;
    Ok(Operation {
        id: row.try_get("", "id")?,
        tenant_id: row.try_get("", "tenant_id")?,
        caller: row.try_get("", "caller")?,
        idempotency_key: row.try_get("", "idempotency_key")?,
        request_hash: row.try_get("", "request_hash")?,
        request,
        state,
        aws_account_id: aws_account_id
            .map(|raw| AwsAccountId::parse(&raw).map_err(|_| malformed("stored account id")))
            .transpose()?,
        progress,
        error: error.transpose()?,
        aws_calls: u32::try_from(aws_calls).unwrap_or_default(),
        next_check_at: row.try_get("", "next_check_at")?,
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
        claim_epoch: row.try_get("", "claim_epoch")?,
    })
}
