//! Tenure's end-to-end suite in one test binary: the workspace layout rules, then the cluster
//! scenarios.

mod abuse;
mod layout;
mod limits;
mod observability;
mod orders;
mod purge;
mod reliability;
mod rls;
mod scenarios;
mod security;
mod stack;
mod sweep;
mod traces;
