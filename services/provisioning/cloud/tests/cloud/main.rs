//! The `aws` backend through the real SDK: against moto_server where moto emulates the API, and through the
//! SDK's own test utilities where it does not (each such test names the gap).
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

mod faults;
mod moto_contract;
mod role_assumption;
mod smithy_mocks;
mod support;
