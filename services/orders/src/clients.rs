//! The saga engine's port to its peers: every [`Action`] becomes calls to accounts, provisioning or
//! data-purge, each carrying the step's idempotency key (and sub-keys derived from it for steps that
//! make several calls), the tenant, the order and saga ids, and the trace context through
//! [`PeerChannel`]. Every answer is classified once here into a [`StepOutcome`] (sagas.md §2.5).
//!
//! [`actions`] says what each step means in calls; [`accounts`], [`provisioning`] and [`purge`] make
//! the calls of one peer each; [`status`] classifies what the peers answer.
//!
//! [`Action`]: crate::domain::saga::node::Action

#![expect(
    clippy::result_large_err,
    reason = "a step's outcome is built once per peer call and moved once; boxing it would buy nothing"
)]

mod accounts;
mod actions;
mod provisioning;
mod purge;
mod status;

use std::time::Duration;

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_grpc::PeerChannel;
use uuid::Uuid;

use crate::domain::saga::advance::StepOutcome;
use crate::domain::saga::port::StepCall;

/// The peers a saga talks to.
#[derive(Debug, Clone)]
pub(crate) struct Peers {
    pub(crate) accounts: PeerChannel,
    pub(crate) provisioning: PeerChannel,
    pub(crate) purge: PeerChannel,
}

/// What the port needs besides the peers.
#[derive(Debug, Clone)]
pub(crate) struct PortSettings {
    /// The platform organization used when a tenant has none of its own.
    pub(crate) default_management_account_id: Option<tenure_domain::AwsAccountId>,
    /// Where the Essentials StackSet goes.
    pub(crate) regions: Vec<String>,
    /// How long a wait for operations to prepare a platform organization lasts between checks.
    pub(crate) payer_recheck: Duration,
}

/// [`StepPort`] over gRPC.
///
/// [`StepPort`]: crate::domain::saga::port::StepPort
#[derive(Debug, Clone)]
pub(crate) struct PeerPort {
    peers: Peers,
    settings: PortSettings,
}

impl PeerPort {
    pub(crate) fn new(peers: Peers, settings: PortSettings) -> Self {
        Self { peers, settings }
    }
}

/// A step's work: `Err` carries an outcome that ends it early (a refusal, a pending operation).
type Step = Result<StepOutcome, StepOutcome>;

fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn instant(at: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let at = at?;
    DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))
}

/// A request for a peer acting for the saga's tenant, with the key and ids mirrored in metadata for
/// the peer's logs.
fn request<T>(call: &StepCall, key: Option<Uuid>, message: T) -> tonic::Request<T> {
    let mut request = PeerChannel::for_tenant(message, call.tenant_id);
    let metadata = request.metadata_mut();
    let pairs = [
        ("x-order-id", Some(call.order_id.to_string())),
        ("x-saga-id", Some(call.saga_id.to_string())),
        ("idempotency-key", key.map(|key| key.to_string())),
    ];
    for (name, value) in pairs {
        if let Some(value) = value
            && let Ok(value) = value.parse()
        {
            metadata.insert(name, value);
        }
    }
    request
}
