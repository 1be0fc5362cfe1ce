//! Tenure's end-to-end suite in one test binary: the workspace layout rules, then the cluster
//! scenarios.

mod layout;
mod observability;
mod orders;
mod purge;
mod reliability;
mod scenarios;
mod security;
mod stack;
mod traces;
