//! The real `tenure` binary, run as a new user would: `tenure up` on free ports in a temporary directory,
//! then plain gRPC, gRPC-web and CORS requests against what it printed.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a failed setup step is a failed test"
)]

mod aws;
mod client;
mod console;
mod lifecycle;
mod monitoring;
mod operations;
mod serve;
mod terminal;
mod up;
