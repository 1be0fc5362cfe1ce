//! The wire side of the contract: reading a Plan, Execute or Verify request into one validated
//! target, the data-class and action numbers, and the counts a participant answers with.

use tenure_domain::purge::{
    ColumnClass, DataClass, ErasedTable, PurgeAction, PurgeScope, PurgeTarget, SurveyedTable,
    TableClass,
};
use tenure_domain::{AwsAccountId, Problems, parse_id, required};
use tenure_proto::purge::v1 as pb;

tenure_grpc::enum_conversion!(data_class_from, data_class_to, tenure_proto::common::v1::DataClass => DataClass {
    AwsFetched <=> AwsFetched, CostData <=> CostData, LoginIdentity <=> LoginIdentity,
    OrderRecord <=> OrderRecord, AccountTombstone <=> AccountTombstone, Audit <=> Audit,
    Operational <=> Operational,
});
tenure_grpc::enum_conversion!(purge_action_from, purge_action_to, pb::PurgeAction => PurgeAction {
    Delete <=> Delete, Pseudonymise <=> Pseudonymise, Keep <=> Keep,
});

/// Plan, Execute and Verify requests: which purge, over what scope, of which classes.
pub trait PurgeRequest {
    /// The purge id as sent.
    fn purge_id(&self) -> &str;
    /// The subject as sent.
    fn scope(&self) -> Option<&pb::ParticipantScope>;
    /// The classes as sent.
    fn classes(&self) -> &[i32];
}

macro_rules! purge_request {
    ($($request:ty),+ $(,)?) => {
        $(impl PurgeRequest for $request {
            fn purge_id(&self) -> &str {
                &self.purge_id
            }

            fn scope(&self) -> Option<&pb::ParticipantScope> {
                self.scope.as_ref()
            }

            fn classes(&self) -> &[i32] {
                &self.classes
            }
        })+
    };
}

purge_request!(pb::PlanRequest, pb::ExecuteRequest, pb::VerifyRequest);

/// Reads a participant request, recording every problem under its field; `None` when a field the
/// target needs is invalid.
pub fn purge_target(problems: &mut Problems, request: &impl PurgeRequest) -> Option<PurgeTarget> {
    let purge_id = problems.check("purge_id", parse_id(request.purge_id()));
    let mut classes = Vec::new();
    for (index, raw) in request.classes().iter().enumerate() {
        if let Some(class) = problems.check(format!("classes[{index}]"), data_class_from(*raw)) {
            classes.push(class);
        }
    }
    let Some(scope) = request.scope() else {
        problems.check("scope", Err::<(), _>(required()));
        return None;
    };
    let kind = match pb::ScopeKind::try_from(scope.kind) {
        Ok(pb::ScopeKind::Account) => Some(PurgeScope::Account),
        Ok(pb::ScopeKind::Tenant) => Some(PurgeScope::Tenant),
        _ => problems.check("scope.kind", Err(required())),
    };
    let tenant = problems.check("scope.tenant_id", parse_id(&scope.tenant_id));
    let aws_account_id = match kind {
        Some(PurgeScope::Account) => problems
            .check(
                "scope.aws_account_id",
                AwsAccountId::parse(&scope.aws_account_id),
            )
            .map(Some),
        _ => Some(None),
    };
    Some(PurgeTarget {
        purge_id: purge_id?,
        scope: kind?,
        tenant: tenant?,
        aws_account_id: aws_account_id?,
        classes,
    })
}

/// The count a participant reports for one table and class: `rows` rows, whose keys are `keys`.
fn table_count(
    service: &str,
    entry: &TableClass,
    action: PurgeAction,
    keys: &[String],
    rows: u64,
) -> pb::TableCount {
    pb::TableCount {
        service: service.to_owned(),
        data_class: data_class_to(entry.class),
        table: entry.table.to_owned(),
        action: purge_action_to(action),
        rows,
        key_hash: tenure_domain::purge::row_key_hash(keys),
    }
}

/// The count of the rows of a surveyed table.
fn surveyed_count(service: &str, table: &SurveyedTable) -> pb::TableCount {
    let rows = u64::try_from(table.keys.len()).unwrap_or(u64::MAX);
    table_count(service, table.entry, table.action, &table.keys, rows)
}

/// Plan's answer: every table, with the rows a purge would touch there.
pub(crate) fn plan_answer(service: &str, survey: &[SurveyedTable]) -> pb::PlanResponse {
    pb::PlanResponse {
        service: service.to_owned(),
        entries: survey
            .iter()
            .map(|table| surveyed_count(service, table))
            .collect(),
    }
}

/// Execute's answer: per table the purge changed, the rows it found (their key hash) and changed.
pub(crate) fn execute_answer(service: &str, erased: &[ErasedTable]) -> pb::ExecuteResponse {
    pb::ExecuteResponse {
        service: service.to_owned(),
        entries: erased
            .iter()
            .map(|table| {
                table_count(
                    service,
                    table.entry,
                    table.action,
                    &table.keys,
                    table.affected,
                )
            })
            .collect(),
    }
}

/// Verify's answer: the rows a purge should have removed or emptied and that are still there.
pub(crate) fn verify_answer(service: &str, survey: &[SurveyedTable]) -> pb::VerifyResponse {
    pb::VerifyResponse {
        service: service.to_owned(),
        residual: survey
            .iter()
            .filter(|table| table.action != PurgeAction::Keep && !table.keys.is_empty())
            .map(|table| surveyed_count(service, table))
            .collect(),
    }
}

/// DescribeDataClasses' answer for `columns`.
pub fn describe(
    service: &str,
    columns: impl IntoIterator<Item = ColumnClass>,
) -> pb::DescribeDataClassesResponse {
    pb::DescribeDataClassesResponse {
        service: service.to_owned(),
        columns: columns
            .into_iter()
            .map(|column| pb::ColumnClass {
                table: column.table.to_owned(),
                column: column.column.to_owned(),
                data_class: data_class_to(column.class),
                owner_key: column.owner_key.to_owned(),
            })
            .collect(),
    }
}
