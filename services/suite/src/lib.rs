//! The `tenure` binary as a library: configuration, composition of the services, and the commands.
//! It holds no business logic; each service crate owns its own.
//!
//! Tests drive the same code the binary runs: [`cluster::Cluster`] starts any set of services on
//! listeners the caller bound (port 0 in tests), and [`config::load`] takes the environment as a slice.

pub mod cli;
pub mod client;
pub mod cluster;
pub mod commands;
pub mod config;
mod dev_key;
pub mod output;
