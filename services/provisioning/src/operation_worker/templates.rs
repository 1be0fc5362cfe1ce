//! The CloudFormation templates the platform deploys, kept in `deploy/cloudformation/` and embedded at
//! build time so that the deployed text is the reviewed text.

use crate::domain::cloud::{StackSetSpec, StackSpec};

/// The bootstrap-role (payer) stack's name; Tenure-prefixed, as the role's own policy requires.
pub(crate) const BOOTSTRAP_STACK_NAME: &str = "tenure-bootstrap";

/// The Essentials StackSet's name.
pub(crate) const ESSENTIALS_STACK_SET_NAME: &str = "tenure-essentials";

const BOOTSTRAP_TEMPLATE: &str =
    include_str!("../../../../deploy/cloudformation/bootstrap-role.yaml");
const ESSENTIALS_TEMPLATE: &str =
    include_str!("../../../../deploy/cloudformation/essentials-stackset.yaml");

/// The tag that marks a stack or StackSet as Tenure's, so that an `AlreadyExistsException` can adopt
/// it safely and never someone else's.
const OWNER_TAG: (&str, &str) = ("tenure:managed", "true");

fn owner_tags() -> Vec<(String, String)> {
    vec![(OWNER_TAG.0.to_owned(), OWNER_TAG.1.to_owned())]
}

/// True when `tags` mark the resource as Tenure's.
pub(crate) fn is_tenure_owned(tags: &[(String, String)]) -> bool {
    tags.iter()
        .any(|(key, value)| key == OWNER_TAG.0 && value == OWNER_TAG.1)
}

/// The bootstrap-role stack.
pub(crate) fn bootstrap_stack() -> StackSpec {
    StackSpec {
        name: BOOTSTRAP_STACK_NAME.to_owned(),
        template_body: BOOTSTRAP_TEMPLATE.to_owned(),
        tags: owner_tags(),
    }
}

/// The Essentials StackSet.
pub(crate) fn essentials_stack_set() -> StackSetSpec {
    StackSetSpec {
        name: ESSENTIALS_STACK_SET_NAME.to_owned(),
        template_body: ESSENTIALS_TEMPLATE.to_owned(),
        tags: owner_tags(),
    }
}
