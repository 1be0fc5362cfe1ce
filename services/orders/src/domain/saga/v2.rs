//! The shipped definitions, version 2: what version 1 did, plus the customer's steps the seeds name
//! that version 1 left out. Each is written as its version-1 list with the changes spelled out, so
//! the difference between the versions reads in one place. A change here is a version 3, never an
//! edit: the golden test in `shipped` fails when a fingerprint moves.
//!
//! - Organization transfers (seed 003): every ECAM/SPAM scenario ends with the customer's
//!   satisfaction survey. It never holds the order or billing.
//! - Terminations: an unlink follows seed 001's cancellation procedure. The customer shuts down what
//!   it no longer needs and confirms the link may end before the platform touches anything, and once
//!   the link ended it is shown how to close the account as root (seed 001 §2), a follow-up that
//!   never holds the order. Waiting for AWS to close an account is the platform's step, not the
//!   customer's.

use crate::domain::order::{TaskKind, TaskOwner};
use crate::domain::saga::build::{follow_up, owned_by, task, unlinks, when};
use crate::domain::saga::definition::{Definition, DefinitionError, SagaKind};
use crate::domain::saga::node::{Node, OnReject, StepOwner};
use crate::domain::saga::v1;

/// The position of the step `name` in `nodes`.
fn position(nodes: &[Node], name: &str) -> Result<usize, DefinitionError> {
    nodes
        .iter()
        .position(|node| node.name == name)
        .ok_or_else(|| DefinitionError::UnknownNode {
            name: name.to_owned(),
        })
}

/// ECAM/SPAM transfers: version 1 and the survey (seed 003, the last row of all four tables).
pub(crate) fn organization_transfer() -> Result<Definition, DefinitionError> {
    let mut nodes = v1::organization_transfer()?.nodes;
    nodes.push(follow_up(
        "satisfaction_survey",
        "Answer the customer satisfaction survey",
        TaskKind::Survey,
    ));
    Definition::new(SagaKind::OrganizationTransfer, 2, nodes, None)
}

/// Terminations: version 1 with seed 001's customer steps around an unlink.
pub(crate) fn account_termination() -> Result<Definition, DefinitionError> {
    let mut nodes = v1::account_termination()?.nodes;
    let closure = position(&nodes, "await_closure")?;
    nodes[closure] = owned_by(nodes[closure], StepOwner::Automation);
    let confirmation = position(&nodes, "confirm_with_customer")?;
    nodes.splice(
        confirmation + 1..confirmation + 1,
        [
            when(
                task(
                    "shut_down_resources",
                    "Shut down the resources you no longer need",
                    TaskOwner::Customer,
                    OnReject::Cancel,
                ),
                unlinks,
            ),
            when(
                task(
                    "confirm_unlink",
                    "Confirm that we may end the link to your account",
                    TaskOwner::Customer,
                    OnReject::Cancel,
                ),
                unlinks,
            ),
        ],
    );
    nodes.push(when(
        follow_up(
            "close_account_as_root",
            "Close your AWS account as its root user if you are leaving AWS",
            TaskKind::Action,
        ),
        unlinks,
    ));
    Definition::new(
        SagaKind::AccountTermination,
        2,
        nodes,
        Some("delete_stack_instances"),
    )
}
