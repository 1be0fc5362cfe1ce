//! The gRPC face of the service: handlers, the authorization policy, proto conversions and the mapping
//! of domain errors to `tonic::Status`. A handler converts the request (collecting every violation),
//! calls one use case and converts the reply.

mod context;
mod convert;
mod order_events;
mod order_service;
mod policy;
mod purge_participant;
mod saga_admin;
mod status;
mod stream_caps;

pub(crate) use crate::app::Orders;
pub(crate) use order_events::OrderEventsHandler;
pub(crate) use order_service::OrderServiceHandler;
pub(crate) use policy::POLICY;
pub(crate) use saga_admin::SagaAdminHandler;
pub(crate) use stream_caps::StreamCaps;
