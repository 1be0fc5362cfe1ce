//! Tenure's shared gRPC server kit.
//!
//! Every service registers its gRPC services, policy table, workers and readiness probes on one
//! [`ServerBuilder`]; the builder adds what every listener needs, in a fixed order (see `host.rs`):
//! telemetry and RED metrics, CORS and gRPC-web, load shedding, a deadline cap, JWT authentication,
//! function-level authorization and per-tenant rate limits, plus `grpc.health.v1` and reflection. Peers are reached through a
//! [`PeerChannel`] that adds the client span, W3C trace context, a service token and the remaining
//! deadline. Handlers never read `authorization` themselves: they receive a [`Principal`].
//!
//! This crate never depends on a service crate.

mod auth;
mod client;
mod deadline;
mod descriptor;
mod dev_auth;
pub mod feed;
mod guard;
mod health;
mod host;
mod identity;
mod limit;
pub mod paging;
mod policy;
mod rate_limit;
mod request;
mod settings;
pub mod status;
mod streams;
mod telemetry;

pub use auth::{
    AuthFailure, AuthSettings, Claims, Ed25519KeyPair, IssuerSettings, Principal, Role,
    ServiceTokenMinter, TokenAlgorithm, TokenGrant, TokenSigner, TokenVerifier, VerificationKey,
    principal_from,
};
pub use client::PeerChannel;
pub use deadline::remaining_deadline;
pub use descriptor::{MethodInfo, methods_of_service, served_methods};
pub use dev_auth::{
    DEV_ISSUER, DEV_TOKEN_MAX_LIFETIME, DevAuthority, SERVICE_ISSUER, SERVICE_TOKEN_LIFETIME,
};
pub use health::{FnProbe, ReadinessProbe};
pub use host::{Host, ServerBuilder, ServerHandle};
pub use identity::ServiceKind;
pub use policy::{MethodPolicy, PURGE_PARTICIPANT_POLICY, uncovered_methods};
pub use rate_limit::{MUTATION_CLASS, READ_CLASS, rate_key};
pub use settings::{CorsSettings, Limits, RateLimitSettings, ServerSettings};
pub use streams::{StreamSlot, StreamSlots};

/// The metadata key that carries the tenant a service-role call acts for. Only honoured for the
/// `service` role; any other principal sending it is refused (quality.md S6).
pub const TENANT_METADATA_KEY: &str = "x-tenure-tenant";
