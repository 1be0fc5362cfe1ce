//! The service's decisions, free of transport and storage: what an order is, the saga engine's pure
//! core and its shipped definitions, the words customers read, the purge policy of every column, and
//! the error vocabulary. Nothing here names tonic, prost or sea-orm; shared value types come from
//! `tenure-domain`.

pub(crate) mod catalogue;
pub(crate) mod data_class;
mod error;
pub(crate) mod order;
pub(crate) mod records;
pub(crate) mod saga;
pub(crate) mod stream;

pub(crate) use error::{OrdersError, Rejection};
