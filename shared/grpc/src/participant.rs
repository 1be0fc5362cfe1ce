//! The wire side of `tenure.purge.v1.PurgeParticipant` that every data owner shares: reading a Plan,
//! Execute or Verify request into one validated target, the data-class and action conversions, and
//! the counts a participant answers with. What a service deletes stays its own business.

use tenure_domain::purge::{ColumnClass, DataClass, PurgeAction, PurgeScope, TableClass};
use tenure_domain::{AwsAccountId, FieldProblem, Problems, parse_id, required};
use tenure_proto::purge::v1 as pb;
use uuid::Uuid;

crate::enum_conversion!(data_class_from, data_class_to, tenure_proto::common::v1::DataClass => DataClass {
    AwsFetched <=> AwsFetched, CostData <=> CostData, LoginIdentity <=> LoginIdentity,
    OrderRecord <=> OrderRecord, AccountTombstone <=> AccountTombstone, Audit <=> Audit,
    Operational <=> Operational,
});
crate::enum_conversion!(purge_action_from, purge_action_to, pb::PurgeAction => PurgeAction {
    Delete <=> Delete, Pseudonymise <=> Pseudonymise, Keep <=> Keep,
});

/// The proto number of a data class.
pub fn class_number(class: DataClass) -> i32 {
    data_class_to(class)
}

/// The proto number of a purge action.
pub fn action_number(action: PurgeAction) -> i32 {
    purge_action_to(action)
}

/// A data class from its proto number; `UNSPECIFIED` and unknown numbers are refused (TNR004).
pub fn class_from_number(raw: i32) -> Result<DataClass, FieldProblem> {
    data_class_from(raw)
}

/// A validated participant request: which purge, over what subject, of which classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeTarget {
    /// The purge.
    pub purge_id: Uuid,
    /// Account or tenant.
    pub scope: PurgeScope,
    /// The tenant that owns the data.
    pub tenant: Uuid,
    /// For account scope: the account.
    pub aws_account_id: Option<AwsAccountId>,
    /// The classes to purge.
    pub classes: Vec<DataClass>,
}

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

/// The count a participant reports for one table and class: `rows` rows, whose sorted keys hash to
/// `key_hash`.
pub fn table_count(
    service: &str,
    entry: &TableClass,
    action: PurgeAction,
    rows: u64,
    key_hash: String,
) -> pb::TableCount {
    pb::TableCount {
        service: service.to_owned(),
        data_class: data_class_to(entry.class),
        table: entry.table.to_owned(),
        action: purge_action_to(action),
        rows,
        key_hash,
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
