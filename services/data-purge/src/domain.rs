//! The service's decisions, free of transport and storage: the purge policy, the state machine, legal
//! holds, receipts and their chain, and the error vocabulary. Nothing here names tonic, prost or
//! sea-orm.

mod error;
mod policy;
mod receipt;
mod record;
mod state;

pub(crate) use error::PurgeError;
pub(crate) use policy::{
    DataClass, PurgeAction, PurgeReason, Schedule, Scope, ScopeKind, TableCount, manifest_hash,
    policy_classes,
};
pub(crate) use receipt::{
    ChainLink, ReceiptBody, ReceiptEntry, ReceiptSigner, ReceiptVerifier, StoredReceipt, chain_hash,
};
pub(crate) use record::{
    Actor, LegalHold, Purge, PurgeFilter, PurgeStreamEvent, SCHEMA_VERSION, Transition,
};
pub(crate) use state::{PurgeEvent, PurgeState};
