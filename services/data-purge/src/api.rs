//! The gRPC face of the service: handlers, the authorization policy, and the mapping of domain errors to
//! `tonic::Status`. A handler converts the request (collecting every violation), calls one use case and
//! converts the reply.

mod context;
mod policy;
mod purge_events;
mod purge_participant;
mod purge_service;
mod status;

pub(crate) use context::Purges;
pub(crate) use policy::POLICY;
pub(crate) use purge_events::PurgeEventsHandler;
pub(crate) use purge_participant::PurgeParticipantHandler;
pub(crate) use purge_service::PurgeServiceHandler;
