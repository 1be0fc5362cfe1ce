//! Saga definitions pinned to `(kind, version)` and the registry that holds them (sagas.md §2.3,
//! §2.4). Shipped definitions never change: a golden test fixes each one's fingerprint, and a change
//! of behaviour is a new version beside the old one, so sagas already running keep their steps.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::domain::saga::node::{Node, NodeSpec};

tenure_domain::stored_enums! {
    /// What a saga executes.
    SagaKind {
        AccountCreate => "account_create",
        AccountTransfer => "account_transfer",
        OrganizationTransfer => "organization_transfer",
        AccountTermination => "account_termination",
        Probe => "probe",
    }
}

/// A definition problem the builder refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DefinitionError {
    #[error("{definition}: node names must be unique; {name} repeats")]
    DuplicateName { definition: String, name: String },
    #[error("{definition}: {name} declares an undo after an unconditional pivot")]
    UndoAfterPivot { definition: String, name: String },
    #[error("{definition}: more than one unconditional pivot")]
    SeveralPivots { definition: String },
    #[error("{definition}: the customer cancellation cut-off {name} is not a node")]
    UnknownCutoff { definition: String, name: String },
    #[error("a later version changes the step {name}, which the version it builds on lacks")]
    UnknownNode { name: String },
}

/// An immutable node list with the rules that go with it.
#[derive(Debug, Clone)]
pub(crate) struct Definition {
    pub(crate) kind: SagaKind,
    pub(crate) version: u32,
    pub(crate) nodes: Vec<Node>,
    /// The customer may cancel only before this node starts (operators may abort until the pivot);
    /// `None` lets the customer cancel until the pivot.
    pub(crate) customer_cancel_until: Option<usize>,
}

impl Definition {
    /// Checks the builder rules of sagas.md §2.2. Guarded pivots may appear several times when
    /// their guards pick one per input (an organization transfer's pivot moves with its steps).
    pub(crate) fn new(
        kind: SagaKind,
        version: u32,
        nodes: Vec<Node>,
        customer_cancel_until: Option<&str>,
    ) -> Result<Self, DefinitionError> {
        let definition = format!("{}@{version}", kind.as_str());
        for (index, node) in nodes.iter().enumerate() {
            if nodes[..index].iter().any(|other| other.name == node.name) {
                return Err(DefinitionError::DuplicateName {
                    definition,
                    name: node.name.to_owned(),
                });
            }
        }
        let unconditional_pivots: Vec<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.is_pivot() && node.when.is_none())
            .map(|(index, _)| index)
            .collect();
        if unconditional_pivots.len() > 1 {
            return Err(DefinitionError::SeveralPivots { definition });
        }
        if let Some(pivot) = unconditional_pivots.first()
            && let Some(node) = nodes[*pivot..].iter().find(|node| node.undo().is_some())
        {
            return Err(DefinitionError::UndoAfterPivot {
                definition,
                name: node.name.to_owned(),
            });
        }
        let customer_cancel_until = match customer_cancel_until {
            None => None,
            Some(name) => Some(nodes.iter().position(|node| node.name == name).ok_or_else(
                || DefinitionError::UnknownCutoff {
                    definition: definition.clone(),
                    name: name.to_owned(),
                },
            )?),
        };
        Ok(Self {
            kind,
            version,
            nodes,
            customer_cancel_until,
        })
    }

    /// `kind@version`, as `saga_task.def_key` and `Order.definition` name it.
    pub(crate) fn key(&self) -> String {
        definition_key(self.kind, self.version)
    }

    /// A stable hash of what the definition does: node names, kinds, actions, guards present,
    /// durations. The golden test compares it with the shipped value.
    pub(crate) fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.key().as_bytes());
        for node in &self.nodes {
            let spec = match node.spec {
                NodeSpec::Call {
                    action,
                    undo,
                    reads,
                } => format!("call {action:?} undo {undo:?} reads {reads:?}"),
                NodeSpec::Wait {
                    poll,
                    every,
                    deadline,
                    timeout_code,
                } => format!("wait {poll:?} {every:?} {deadline:?} {timeout_code}"),
                other => format!("{other:?}"),
            };
            hasher.update(
                format!(
                    "\n{}|{:?}|{}|{}|{}",
                    node.name,
                    node.owner,
                    node.status_key,
                    node.when.is_some(),
                    spec
                )
                .as_bytes(),
            );
        }
        hasher.update(format!("\ncancel {:?}", self.customer_cancel_until).as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// `kind@version`.
pub(crate) fn definition_key(kind: SagaKind, version: u32) -> String {
    format!("{}@{version}", kind.as_str())
}

/// The definitions a replica can run. New orders use the newest version of their kind; a saga is
/// claimed only by replicas whose registry holds its exact version.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry {
    definitions: BTreeMap<(SagaKind, u32), Arc<Definition>>,
}

impl Registry {
    /// An empty registry (tests and benchmarks add synthetic definitions).
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a definition.
    pub(crate) fn with(mut self, definition: Definition) -> Self {
        self.definitions
            .insert((definition.kind, definition.version), Arc::new(definition));
        self
    }

    /// The definition of `kind@version`.
    pub(crate) fn get(&self, kind: SagaKind, version: u32) -> Option<Arc<Definition>> {
        self.definitions.get(&(kind, version)).cloned()
    }

    /// The newest version of `kind`.
    pub(crate) fn newest(&self, kind: SagaKind) -> Option<Arc<Definition>> {
        self.definitions
            .range((kind, 0)..=(kind, u32::MAX))
            .next_back()
            .map(|(_, definition)| definition.clone())
    }

    /// Every `kind@version` this registry runs: the claim query's version gate.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.definitions
            .values()
            .map(|definition| definition.key())
            .collect()
    }

    /// Every definition.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<Definition>> {
        self.definitions.values()
    }
}
