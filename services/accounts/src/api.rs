//! The gRPC face of the service: handlers, the authorization policy, proto conversions and the mapping
//! of domain errors to `tonic::Status`. A handler converts the request (collecting every violation),
//! calls one use case and converts the reply.

mod account_service;
mod context;
mod convert;
mod policy;
mod purge_participant;
mod status;

pub(crate) use account_service::AccountServiceHandler;
pub(crate) use policy::POLICY;
