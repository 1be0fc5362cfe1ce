//! What a customer orders, as the saga engine reads it: the kind, the details as placed, and the facts
//! about the tenant and the account that were known when the order was accepted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenure_domain::{AwsAccountId, RootEmail};
use uuid::Uuid;

tenure_domain::stored_enums! {
    /// The kind of an order, as the API names it.
    OrderKind { NewAccount => "new_account", Transfer => "transfer", Terminate => "terminate" }
    /// The lifecycle status of an order (domain.md §4.1).
    OrderStatus {
        Processing => "processing",
        Querying => "querying",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
    /// Who resolves a manual task.
    TaskOwner { Operations => "operations", Customer => "customer" }
    /// Where a manual task stands.
    TaskState {
        Open => "open",
        Completed => "completed",
        Rejected => "rejected",
        Cancelled => "cancelled",
        Expired => "expired",
    }
    /// What a manual task asks for.
    TaskKind { Action => "action", Survey => "survey" }
}

impl OrderStatus {
    /// True once the order can no longer change.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed | OrderStatus::Failed | OrderStatus::Cancelled
        )
    }
}

/// How the platform resells AWS to the tenant; it selects the steps of organization transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResaleModel {
    Ecam,
    Spam,
    BillingTransfer,
}

/// How an account relates to the platform; it decides what a termination does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Relationship {
    PlatformMember,
    PlatformPayer,
    BillingTransferSource,
}

/// The position of an account in its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AccountRole {
    Management,
    Member,
}

/// Close permanently or unlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TerminationMode {
    Close,
    Unlink,
}

/// The closing precautions of domain.md §3.4, by their catalogue names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[expect(
    clippy::enum_variant_names,
    reason = "each variant is its catalogue name (ACK_ROOT_USER, ...), as stored and as the API spells it"
)]
pub(crate) enum Acknowledgement {
    AckRootUser,
    AckNoMembers,
    AckBackup,
    AckOutstandingBill,
    AckCommitments,
    AckResources,
    AckEmailNotReusable,
    AckReopenWindow,
    AckStandalone,
}

/// An amount of money exact to a millionth of its unit, as the billing system reports balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Money {
    /// ISO 4217 code, three upper-case letters.
    pub(crate) currency: String,
    pub(crate) amount_micros: i64,
}

/// What was ordered, as placed (after validation). Root emails and account names are `aws_fetched`
/// data: a purge scrubs them from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum OrderDetails {
    NewAccount {
        /// `None` once a purge removed it; stored as `""` then, as it always was.
        #[serde(with = "blank_as_none")]
        root_email: Option<RootEmail>,
        account_name: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        support_contact: String,
    },
    BillingTransfer {
        management_account_id: AwsAccountId,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        transfer_name: String,
    },
    OrganizationTransfer {
        uses_organizations: bool,
        /// Named only when the whole organization moves.
        #[serde(
            default,
            with = "blank_as_none",
            skip_serializing_if = "Option::is_none"
        )]
        management_account_id: Option<AwsAccountId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        linked_account_ids: Vec<AwsAccountId>,
    },
    Terminate {
        aws_account_id: AwsAccountId,
        mode: TerminationMode,
        acknowledgements: Vec<Acknowledgement>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
        /// The open balance the customer confirmed (TNR015), when the account has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acknowledged_open_balance: Option<Money>,
    },
}

impl OrderDetails {
    /// The kind the API reports.
    pub(crate) fn kind(&self) -> OrderKind {
        match self {
            OrderDetails::NewAccount { .. } => OrderKind::NewAccount,
            OrderDetails::BillingTransfer { .. } | OrderDetails::OrganizationTransfer { .. } => {
                OrderKind::Transfer
            }
            OrderDetails::Terminate { .. } => OrderKind::Terminate,
        }
    }

    /// The AWS accounts the order works on from the start; a new account has none until AWS
    /// created it.
    pub(crate) fn known_accounts(&self) -> Vec<AwsAccountId> {
        match self {
            OrderDetails::NewAccount { .. } => Vec::new(),
            OrderDetails::BillingTransfer {
                management_account_id,
                ..
            } => vec![management_account_id.clone()],
            OrderDetails::OrganizationTransfer {
                uses_organizations: true,
                management_account_id,
                ..
            } => management_account_id.iter().cloned().collect(),
            OrderDetails::OrganizationTransfer {
                linked_account_ids, ..
            } => linked_account_ids.clone(),
            OrderDetails::Terminate { aws_account_id, .. } => vec![aws_account_id.clone()],
        }
    }

    /// The account the order is about, as `Order.aws_account_id` shows it: the one account of a
    /// billing transfer, a whole-organization transfer or a termination.
    pub(crate) fn primary_account(&self) -> Option<AwsAccountId> {
        match self {
            OrderDetails::NewAccount { .. } => None,
            OrderDetails::OrganizationTransfer {
                uses_organizations: false,
                linked_account_ids,
                ..
            } => linked_account_ids.first().cloned(),
            _ => self.known_accounts().into_iter().next(),
        }
    }

    /// The resources no other active order of the tenant may hold at the same time (sagas.md C7).
    pub(crate) fn locks(&self, tenant: Uuid) -> Vec<SagaLock> {
        let mut locks: Vec<SagaLock> = self
            .known_accounts()
            .into_iter()
            .map(|aws_account_id| SagaLock::AwsAccount {
                tenant,
                aws_account_id,
            })
            .collect();
        if let OrderDetails::NewAccount {
            root_email: Some(email),
            ..
        } = self
        {
            locks.push(SagaLock::RootEmail {
                tenant,
                email: email.clone(),
            });
        }
        locks
    }

    /// The details without personal fields: what a tenant purge keeps of an order (the financial
    /// skeleton of domain.md §8.1). Account ids stay; they are the order's subject.
    pub(crate) fn pseudonymised(&self) -> Self {
        match self {
            OrderDetails::NewAccount { .. } => OrderDetails::NewAccount {
                root_email: None,
                account_name: String::new(),
                support_contact: String::new(),
            },
            OrderDetails::BillingTransfer {
                management_account_id,
                ..
            } => OrderDetails::BillingTransfer {
                management_account_id: management_account_id.clone(),
                transfer_name: String::new(),
            },
            OrderDetails::OrganizationTransfer { .. } => self.clone(),
            OrderDetails::Terminate {
                aws_account_id,
                mode,
                acknowledgements,
                acknowledged_open_balance,
                ..
            } => OrderDetails::Terminate {
                aws_account_id: aws_account_id.clone(),
                mode: *mode,
                acknowledgements: acknowledgements.clone(),
                reason: String::new(),
                acknowledged_open_balance: acknowledged_open_balance.clone(),
            },
        }
    }

    /// True when the details hold fields an account-scope purge removes (AWS-fetched data).
    pub(crate) fn holds_fetched_data(&self) -> bool {
        self != &self.fetched_data_removed()
    }

    /// The details without the AWS-fetched fields (root email, account name), for an
    /// account-scope purge that keeps everything else.
    pub(crate) fn fetched_data_removed(&self) -> Self {
        match self {
            OrderDetails::NewAccount {
                support_contact, ..
            } => OrderDetails::NewAccount {
                root_email: None,
                account_name: String::new(),
                support_contact: support_contact.clone(),
            },
            other => other.clone(),
        }
    }
}

/// A resource one active order of a tenant holds (sagas.md C7). Locks are per tenant: whether another
/// tenant works on the same AWS account or email must not change how an order is answered (quality.md
/// §1.6); across tenants the accounts registry, which keeps one live record per AWS account and email,
/// is the arbiter, and the loser's order ends with a catalogue code before any AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SagaLock {
    AwsAccount {
        tenant: Uuid,
        aws_account_id: AwsAccountId,
    },
    /// Held by the email's [`tenure_domain::RootEmail::key`], so spellings that differ only in case
    /// hold one lock.
    RootEmail { tenant: Uuid, email: RootEmail },
}

impl SagaLock {
    /// The stored resource key.
    pub(crate) fn key(&self) -> String {
        match self {
            SagaLock::AwsAccount {
                tenant,
                aws_account_id,
            } => format!("aws-account:{tenant}:{aws_account_id}"),
            SagaLock::RootEmail { tenant, email } => {
                format!("root-email:{tenant}:{}", email.key())
            }
        }
    }

    /// What the lock is on, as a customer reads it in TNR009.
    pub(crate) fn describe(&self) -> String {
        match self {
            SagaLock::AwsAccount { aws_account_id, .. } => format!("account {aws_account_id}"),
            SagaLock::RootEmail { email, .. } => format!("root email {}", email.key()),
        }
    }
}

/// What the tenant was when the order was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TenantFacts {
    pub(crate) public_sector: bool,
    pub(crate) resale_model: ResaleModel,
}

/// What accounts reported about the account a termination targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccountFacts {
    pub(crate) record_id: Uuid,
    pub(crate) relationship: Relationship,
    pub(crate) role: AccountRole,
    /// For members: the management account of their organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) management_account_id: Option<AwsAccountId>,
}

/// A saga's input: the order as placed plus the facts read when it was accepted. Corrected input
/// (an answered query) replaces fields of `details` and bumps the saga's input revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SagaInput {
    pub(crate) details: OrderDetails,
    pub(crate) tenant: TenantFacts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<AccountFacts>,
    /// Terminations: operations confirm with the customer before anything changes
    /// (`terminate.require_ops_confirmation` when the order was placed).
    #[serde(default)]
    pub(crate) ops_confirmation: bool,
}

/// The input fields a step reads; a corrected field sends the saga back to the first finished step
/// that read it (sagas.md §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InputField {
    RootEmail,
    AccountName,
    ManagementAccountId,
    LinkedAccountIds,
}

impl InputField {
    /// The proto field name, as `OrderQuery.editable_fields` lists it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InputField::RootEmail => "root_email",
            InputField::AccountName => "account_name",
            InputField::ManagementAccountId => "management_account_id",
            InputField::LinkedAccountIds => "linked_account_ids",
        }
    }
}

/// A failure that ended (or blocked) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) at: DateTime<Utc>,
    /// The step that failed.
    pub(crate) node: usize,
}

/// A value the stored details write as `""` when it is absent (a purged email, an organization
/// transfer without its management account), so rows written before the value was typed read back
/// unchanged; a value that is present must be valid.
mod blank_as_none {
    use std::borrow::Cow;

    use serde::de::{DeserializeOwned, Error as _, value::StrDeserializer};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<T: Serialize, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_str(""),
        }
    }

    pub(super) fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        let stored = Cow::<'de, str>::deserialize(deserializer)?;
        if stored.is_empty() {
            return Ok(None);
        }
        T::deserialize(StrDeserializer::<D::Error>::new(&stored))
            .map(Some)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::saga::state::{EventPayload, InvitationState, SagaState};

    /// Reads `stored` as `T` and writes it again: rows written while the values were strings must
    /// come back byte for byte.
    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(stored: &Value) -> T {
        let read: T = serde_json::from_value(stored.clone()).expect("a stored row reads");
        assert_eq!(&serde_json::to_value(&read).expect("it writes"), stored);
        read
    }

    #[test]
    fn stored_details_read_and_write_as_they_did_as_strings() {
        let new_account = json!({
            "kind": "new_account",
            "root_email": "Root@Example.com",
            "account_name": "prod",
        });
        let details: OrderDetails = round_trip(&new_account);
        assert_eq!(
            details.locks(Uuid::nil())[0].key(),
            format!("root-email:{}:root@example.com", Uuid::nil())
        );
        let purged: OrderDetails = round_trip(&json!({
            "kind": "new_account",
            "root_email": "",
            "account_name": "",
        }));
        assert_eq!(purged, details.fetched_data_removed());
        round_trip::<OrderDetails>(&json!({
            "kind": "billing_transfer",
            "management_account_id": "012345678901",
        }));
        let whole: OrderDetails = round_trip(&json!({
            "kind": "organization_transfer",
            "uses_organizations": true,
            "management_account_id": "012345678901",
        }));
        assert_eq!(
            whole.primary_account().map(|id| id.as_str().to_owned()),
            Some("012345678901".to_owned())
        );
        let linked: OrderDetails = round_trip(&json!({
            "kind": "organization_transfer",
            "uses_organizations": false,
            "linked_account_ids": ["000000000001", "000000000002"],
        }));
        assert_eq!(linked.known_accounts().len(), 2);
        round_trip::<SagaInput>(&json!({
            "details": {
                "kind": "terminate",
                "aws_account_id": "012345678901",
                "mode": "close",
                "acknowledgements": ["ACK_ROOT_USER"],
            },
            "tenant": { "public_sector": false, "resale_model": "ecam" },
            "account": {
                "record_id": Uuid::nil(),
                "relationship": "platform_member",
                "role": "member",
                "management_account_id": "000000000009",
            },
            "ops_confirmation": false,
        }));
    }

    #[test]
    fn stored_event_payloads_read_and_write_as_they_did_as_strings() {
        round_trip::<EventPayload>(&json!({ "type": "order.placed", "kind": "new_account" }));
        round_trip::<EventPayload>(&json!({
            "type": "order.placed",
            "kind": "terminate",
            "aws_account_id": "012345678901",
        }));
        round_trip::<EventPayload>(&json!({
            "type": "account.closed",
            "aws_account_id": "012345678901",
            "closed_at": "2030-01-01T00:00:00Z",
            "reopen_until": "2030-03-01T00:00:00Z",
        }));
        assert!(
            serde_json::from_value::<EventPayload>(json!({
                "type": "account.unlinked",
                "aws_account_id": "older",
            }))
            .is_err()
        );
    }

    #[test]
    fn a_stored_blank_management_account_reads_as_none() {
        let details: OrderDetails = serde_json::from_value(json!({
            "kind": "organization_transfer",
            "uses_organizations": false,
            "management_account_id": "",
            "linked_account_ids": ["000000000001"],
        }))
        .expect("a blank id reads");
        assert!(matches!(
            details,
            OrderDetails::OrganizationTransfer {
                management_account_id: None,
                ..
            }
        ));
    }

    #[test]
    fn a_malformed_stored_value_is_an_error_not_a_default() {
        for broken in [
            json!({ "kind": "billing_transfer", "management_account_id": "12345" }),
            json!({ "kind": "terminate", "aws_account_id": "01234567890a", "mode": "close", "acknowledgements": [] }),
            json!({ "kind": "new_account", "root_email": "not an email", "account_name": "x" }),
            json!({ "kind": "organization_transfer", "uses_organizations": false, "linked_account_ids": ["1"] }),
        ] {
            assert!(
                serde_json::from_value::<OrderDetails>(broken.clone()).is_err(),
                "{broken}"
            );
        }
        assert!(serde_json::from_value::<SagaState>(json!({ "aws_account_id": "x" })).is_err());
        assert!(
            serde_json::from_value::<SagaState>(json!({ "handshakes": { "x": "h-1" } })).is_err()
        );
        assert!(
            serde_json::from_value::<SagaState>(json!({ "records": { "x": Uuid::nil() } }))
                .is_err()
        );
    }

    #[test]
    fn stored_saga_state_reads_and_writes_as_it_did_as_strings() {
        let state: SagaState = round_trip(&json!({
            "management_account_id": "000000000009",
            "aws_account_id": "012345678901",
            "records": { "": Uuid::nil(), "012345678901": Uuid::nil() },
            "handshakes": { "000000000001": "h-1", "000000000002": "h-2" },
            "reinvited": ["000000000002"],
            "query": {
                "id": Uuid::nil(),
                "code": "TNR301",
                "message": "accept",
                "editable_fields": ["linked_account_ids"],
                "items": [
                    { "aws_account_id": "000000000001", "state": "", "detail": "" },
                    { "aws_account_id": "000000000002", "state": "OPEN", "detail": "accept" },
                    { "aws_account_id": "000000000002", "state": "DECLINED", "detail": "" },
                    { "aws_account_id": "000000000002", "state": "EXPIRED", "detail": "" },
                ],
                "resume": "automatic",
                "deadline": "2030-01-01T00:00:00Z",
                "node": 3,
            },
        }));
        let items = state.query.map(|query| query.items).unwrap_or_default();
        assert_eq!(items[0].state, InvitationState::NoHandshake);
        assert_eq!(items[1].state, InvitationState::Open);
        assert!(
            serde_json::from_value::<SagaState>(json!({
                "query": {
                    "id": Uuid::nil(), "code": "c", "message": "m", "editable_fields": [],
                    "items": [{ "aws_account_id": "000000000001", "state": "PENDING", "detail": "" }],
                    "resume": "automatic", "deadline": "2030-01-01T00:00:00Z", "node": 0,
                },
            }))
            .is_err()
        );
    }
}
