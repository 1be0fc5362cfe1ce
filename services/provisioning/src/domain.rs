//! The service's decisions, free of transport and storage: the reaction table that turns an AWS answer
//! into retry, defer, customer action or failure, the operation state machine, the billing-transfer dates
//! and the input rules. Nothing here names tonic, prost or sea-orm. The AWS primitives themselves
//! ([`cloud::Cloud`] and its vocabulary) live in the `tenure-provisioning-cloud` crate so that the SDK is
//! compiled apart from the service.

pub(crate) mod aws_values;
pub(crate) mod billing;
pub(crate) mod error;
pub(crate) mod listing;
pub(crate) mod operation;
pub(crate) mod purge;
pub(crate) mod reaction;
pub(crate) mod validate;

pub(crate) use tenure_provisioning_cloud as cloud;
