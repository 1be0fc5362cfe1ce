//! The gRPC face of the service: handlers, the authorization policy, and the mapping of domain errors to
//! `tonic::Status`. A handler converts the request (collecting every violation), calls one use case and
//! converts the reply.

mod context;
mod convert;
mod operation_requests;
mod policy;
mod provisioning_service;
mod purge_participant;
mod sandbox_service;
mod status;

pub(crate) use policy::POLICY;
pub(crate) use provisioning_service::ProvisioningServiceHandler;
pub(crate) use sandbox_service::SandboxServiceHandler;
