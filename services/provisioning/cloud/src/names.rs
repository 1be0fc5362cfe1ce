//! The names AWS gives the values of its enumerations (`ACTIVE`, `TRANSFER_RESPONSIBILITY`, …), one
//! table per type. Callers store and compare these names; reading a name that is not in the table is an
//! [`UnknownAwsValue`], never a guess, because a guessed state would drive the wrong next step.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    AccountState, CreateAccountState, HandshakeAction, HandshakeState, JoinedMethod,
    StackInstanceStatus, StackSetOperationStatus, StackSetStatus, StackStatus, TransferStatus,
};

/// A name that is not one of the values of an AWS enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAwsValue {
    /// The enumeration, e.g. `HandshakeState`.
    pub kind: &'static str,
    /// The name as read.
    pub value: String,
}

impl fmt::Display for UnknownAwsValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownAwsValue {}

/// `as_str`, `FromStr`, `Display` and serde as the AWS name, from one table so the directions cannot
/// drift apart.
macro_rules! aws_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The value as AWS writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownAwsValue;

            fn from_str(raw: &str) -> Result<Self, UnknownAwsValue> {
                match raw {
                    $($name => Ok(Self::$variant),)+
                    other => Err(UnknownAwsValue {
                        kind: stringify!($ty),
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

aws_names!(CreateAccountState {
    InProgress => "IN_PROGRESS",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});

aws_names!(AccountState {
    PendingActivation => "PENDING_ACTIVATION",
    Active => "ACTIVE",
    PendingClosure => "PENDING_CLOSURE",
    Suspended => "SUSPENDED",
    Closed => "CLOSED",
});

aws_names!(JoinedMethod {
    Created => "CREATED",
    Invited => "INVITED",
});

aws_names!(HandshakeAction {
    Invite => "INVITE",
    TransferResponsibility => "TRANSFER_RESPONSIBILITY",
});

aws_names!(HandshakeState {
    Requested => "REQUESTED",
    Open => "OPEN",
    Accepted => "ACCEPTED",
    Declined => "DECLINED",
    Canceled => "CANCELED",
    Expired => "EXPIRED",
});

aws_names!(TransferStatus {
    Requested => "REQUESTED",
    Accepted => "ACCEPTED",
    Declined => "DECLINED",
    Canceled => "CANCELED",
    Expired => "EXPIRED",
    Withdrawn => "WITHDRAWN",
});

aws_names!(StackSetOperationStatus {
    Queued => "QUEUED",
    Running => "RUNNING",
    Stopping => "STOPPING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
    Stopped => "STOPPED",
});

aws_names!(StackStatus {
    CreateInProgress => "CREATE_IN_PROGRESS",
    CreateFailed => "CREATE_FAILED",
    CreateComplete => "CREATE_COMPLETE",
    RollbackInProgress => "ROLLBACK_IN_PROGRESS",
    RollbackFailed => "ROLLBACK_FAILED",
    RollbackComplete => "ROLLBACK_COMPLETE",
    DeleteInProgress => "DELETE_IN_PROGRESS",
    DeleteFailed => "DELETE_FAILED",
    DeleteComplete => "DELETE_COMPLETE",
    UpdateInProgress => "UPDATE_IN_PROGRESS",
    UpdateCompleteCleanupInProgress => "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    UpdateComplete => "UPDATE_COMPLETE",
    UpdateFailed => "UPDATE_FAILED",
    UpdateRollbackInProgress => "UPDATE_ROLLBACK_IN_PROGRESS",
    UpdateRollbackFailed => "UPDATE_ROLLBACK_FAILED",
    UpdateRollbackCompleteCleanupInProgress => "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    UpdateRollbackComplete => "UPDATE_ROLLBACK_COMPLETE",
    ReviewInProgress => "REVIEW_IN_PROGRESS",
    ImportInProgress => "IMPORT_IN_PROGRESS",
    ImportComplete => "IMPORT_COMPLETE",
    ImportRollbackInProgress => "IMPORT_ROLLBACK_IN_PROGRESS",
    ImportRollbackFailed => "IMPORT_ROLLBACK_FAILED",
    ImportRollbackComplete => "IMPORT_ROLLBACK_COMPLETE",
});

aws_names!(StackSetStatus {
    Active => "ACTIVE",
    Deleted => "DELETED",
});

aws_names!(StackInstanceStatus {
    Pending => "PENDING",
    Running => "RUNNING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
    Cancelled => "CANCELLED",
    Inoperable => "INOPERABLE",
    SkippedSuspendedAccount => "SKIPPED_SUSPENDED_ACCOUNT",
    FailedImport => "FAILED_IMPORT",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for state in [
            HandshakeState::Requested,
            HandshakeState::Open,
            HandshakeState::Accepted,
            HandshakeState::Declined,
            HandshakeState::Canceled,
            HandshakeState::Expired,
        ] {
            assert_eq!(state.as_str().parse::<HandshakeState>(), Ok(state));
        }
        assert_eq!(
            "PENDING".parse::<AccountState>(),
            Err(UnknownAwsValue {
                kind: "AccountState",
                value: "PENDING".to_owned(),
            })
        );
    }
}
