//! The saga engine's pure core: nodes, definitions and their registry, the state a saga keeps, and
//! [`advance`]'s decisions. Nothing here does I/O; the runtime (`crate::saga_runtime`) joins it to the
//! store and the peers.

pub(crate) mod advance;
mod build;
pub(crate) mod definition;
pub(crate) mod node;
pub(crate) mod port;
pub(crate) mod shipped;
pub(crate) mod state;
pub(crate) mod v1;
pub(crate) mod v2;
