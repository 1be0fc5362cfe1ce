//! AWS values as the operations store them: an account's state including "not in the organization",
//! and account ids inside persisted snapshots. Stored names are AWS's own, so rows written before these
//! types existed read back unchanged; a name or id that does not parse fails the read instead of
//! standing in for some default.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::cloud::{AccountState, UnknownAwsValue};

/// The stored name of [`AwsAccountState::NotInOrganization`].
const NOT_IN_ORGANIZATION: &str = "NOT_IN_ORGANIZATION";

/// An account's state as last read: AWS's `Account.State`, or not (any longer) in the organization,
/// which AWS answers with AccountNotFoundException rather than a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AwsAccountState {
    Member(AccountState),
    NotInOrganization,
}

impl AwsAccountState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Member(state) => state.as_str(),
            Self::NotInOrganization => NOT_IN_ORGANIZATION,
        }
    }
}

impl From<AccountState> for AwsAccountState {
    fn from(state: AccountState) -> Self {
        Self::Member(state)
    }
}

impl FromStr for AwsAccountState {
    type Err = UnknownAwsValue;

    fn from_str(raw: &str) -> Result<Self, UnknownAwsValue> {
        if raw == NOT_IN_ORGANIZATION {
            return Ok(Self::NotInOrganization);
        }
        raw.parse::<AccountState>()
            .map(Self::Member)
            .map_err(|_| UnknownAwsValue {
                kind: "AwsAccountState",
                value: raw.to_owned(),
            })
    }
}

impl fmt::Display for AwsAccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AwsAccountState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AwsAccountState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for an [`AwsAccountId`](tenure_domain::AwsAccountId) field as its 12 digits; the shared type
/// carries no serde of its own. Use with `#[serde(with = "account_id")]`.
pub(crate) mod account_id {
    use serde::{Deserialize, Deserializer, Serializer};
    use tenure_domain::AwsAccountId;

    pub(crate) fn serialize<S: Serializer>(
        id: &AwsAccountId,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(id.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<AwsAccountId, D::Error> {
        let raw = String::deserialize(deserializer)?;
        AwsAccountId::parse(&raw).map_err(|problem| serde::de::Error::custom(problem.description))
    }
}

/// [`account_id`] for a list of ids. Use with `#[serde(with = "account_ids")]`.
pub(crate) mod account_ids {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};
    use tenure_domain::AwsAccountId;

    pub(crate) fn serialize<S: Serializer>(
        ids: &[AwsAccountId],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(ids.len()))?;
        for id in ids {
            seq.serialize_element(id.as_str())?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<AwsAccountId>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|raw| {
                AwsAccountId::parse(raw)
                    .map_err(|problem| serde::de::Error::custom(problem.description))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::operation::{OperationRequest, Progress};

    /// Progress as it was stored while these values were plain strings.
    fn stored_progress() -> serde_json::Value {
        serde_json::json!({
            "phase": "REFERENCED",
            "create_request_id": "car-0123456789abcdef",
            "create_status": "SUCCEEDED",
            "failure_reason": null,
            "account": {
                "account_id": "012345678901",
                "state": "NOT_IN_ORGANIZATION",
                "joined_method": "INVITED",
                "joined_at": "2026-01-01T00:00:00Z"
            },
            "handshake": {
                "id": "h-0123456789",
                "action": "TRANSFER_RESPONSIBILITY",
                "state": "OPEN",
                "target": "012345678901",
                "requested_at": "2026-01-01T00:00:00Z",
                "expires_at": "2026-01-15T00:00:00Z",
                "transfer_id": "rt-0123456789"
            },
            "transfer": {
                "id": "rt-0123456789",
                "handshake_id": "h-0123456789",
                "status": "WITHDRAWN",
                "source": "012345678901",
                "start_at": "2026-02-01T00:00:00Z",
                "expires_at": null,
                "end_at": null
            },
            "stack": {
                "name": "tenure-bootstrap",
                "stack_id": null,
                "status": "CREATE_COMPLETE",
                "account": "012345678901"
            },
            "stack_set": {
                "name": "tenure-essentials",
                "stack_set_id": null,
                "operation_id": "op-1",
                "operation_status": "STOPPED",
                "accounts": ["012345678901", "109876543210"]
            },
            "requested_date": null,
            "date_moved": false,
            "force_deleted": false,
            "retained_inoperable": false,
            "withdraw_by": null,
            "transient_attempts": 0,
            "repeats": 0
        })
    }

    #[test]
    fn stored_progress_reads_back_and_is_written_as_before() {
        let stored = stored_progress();
        let progress: Progress = serde_json::from_value(stored.clone()).expect("stored progress");
        assert_eq!(
            progress.account.as_ref().map(|account| account.state),
            Some(AwsAccountState::NotInOrganization)
        );
        assert_eq!(serde_json::to_value(&progress).ok(), Some(stored));
    }

    #[test]
    fn stored_requests_read_back_and_are_written_as_before() {
        for stored in [
            serde_json::json!({
                "kind": "CREATE_STACK_INSTANCES",
                "management_account": "111111111111",
                "template": "ESSENTIALS",
                "accounts": ["012345678901", "109876543210"],
                "regions": ["eu-west-1"]
            }),
            serde_json::json!({
                "kind": "INVITE_BILLING_TRANSFER",
                "management_account": "111111111111",
                "source": "012345678901",
                "source_name": "Customer",
                "order_id": "0b5f3c1e-8d3a-4f55-9a44-6f1c2b7d9e10"
            }),
        ] {
            let request: OperationRequest =
                serde_json::from_value(stored.clone()).expect("stored request");
            assert_eq!(serde_json::to_value(&request).ok(), Some(stored));
        }
    }

    #[test]
    fn stored_progress_with_an_unknown_state_or_id_does_not_read() {
        for (path, value) in [
            ("/account/state", "GONE"),
            ("/handshake/state", "PENDING"),
            ("/handshake/action", "ENABLE_ALL_FEATURES"),
            ("/transfer/status", "PAUSED"),
            ("/stack_set/operation_status", "DONE"),
            ("/create_status", "QUEUED"),
            ("/account/account_id", "12345"),
        ] {
            let mut stored = stored_progress();
            if let Some(field) = stored.pointer_mut(path) {
                *field = serde_json::Value::from(value);
            }
            assert!(
                serde_json::from_value::<Progress>(stored).is_err(),
                "{path} = {value}"
            );
        }
    }

    #[test]
    fn account_states_keep_their_stored_names_and_refuse_unknown_ones() {
        for (state, name) in [
            (AwsAccountState::Member(AccountState::Active), "\"ACTIVE\""),
            (
                AwsAccountState::NotInOrganization,
                "\"NOT_IN_ORGANIZATION\"",
            ),
        ] {
            assert_eq!(serde_json::to_string(&state).ok().as_deref(), Some(name));
            assert_eq!(
                serde_json::from_str::<AwsAccountState>(name).ok(),
                Some(state)
            );
        }
        assert!(serde_json::from_str::<AwsAccountState>("\"GONE\"").is_err());
        assert_eq!(
            "GONE".parse::<AwsAccountState>(),
            Err(UnknownAwsValue {
                kind: "AwsAccountState",
                value: "GONE".to_owned(),
            })
        );
    }
}
