//! The gRPC face of the service: handlers, the authorization policy, and the mapping of domain errors to
//! `tonic::Status`. A handler authorizes the call, converts the request into domain values (collecting
//! every violation), calls one use case in `app` and converts its answer. Nothing here reaches `store`.

mod context;
mod policy;
mod purge_events;
mod purge_participant;
mod purge_service;
mod status;

pub(crate) use policy::POLICY;
pub(crate) use purge_events::PurgeEventsHandler;
pub(crate) use purge_service::PurgeServiceHandler;
