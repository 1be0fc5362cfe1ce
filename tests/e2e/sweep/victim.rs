//! The victim's view of its own objects, through every read method and each of its ids: taken
//! before the sweep and after it, any difference is a write that crossed the tenant line.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{DynamicMessage, Value};

use super::Sweep;
use super::base::{self, Builder};
use super::bola::{caller_kind, id_kind};
use super::wire::Call;
use super::world::IdKind;
use crate::stack::As;

/// Each read (method, id, caller) and its answer: the code and the body as canonical JSON.
pub(crate) type View = BTreeMap<String, String>;

impl Sweep<'_> {
    pub(crate) async fn victim_view(&mut self) -> View {
        let mut view = View::new();
        let builder = Builder {
            world: &self.victim,
            now: self.now,
        };
        let mut requests = Vec::new();
        for method in &self.methods {
            if method.mutating() || method.path.contains("PurgeParticipant") {
                continue;
            }
            let mut callers = method.tenant_bound_callers(&self.victim);
            if method.allows(tenure_grpc::Role::Operator) {
                callers.push(As::Operator);
            }
            for who in callers {
                // A list as the victim sees it; an operator's narrowed to the victim's tenant (and
                // left out where it cannot be: the attacker's changes would show in it).
                let tenant_filter = method.input.get_field_by_name("tenant_id");
                let operator = matches!(who, As::Operator);
                if let Some(page_size) = method.input.get_field_by_name("page_size")
                    && (!operator || tenant_filter.is_some())
                {
                    let mut message = DynamicMessage::new(method.input.clone());
                    message.set_field(&page_size, Value::U32(100));
                    if let (true, Some(field)) = (operator, &tenant_filter) {
                        message.set_field(field, Value::String(self.victim.tenant.to_string()));
                    }
                    let key = format!("{} list as {}", method.label(), caller_kind(&who));
                    requests.push((key, method.clone(), who.clone(), message));
                }
                for path in base::paths(&method.input) {
                    let Some(kind) = id_kind(&path).filter(|kind| *kind != IdKind::PageToken)
                    else {
                        continue;
                    };
                    for id in self.victim.all(kind) {
                        let mut message = builder.base(method, &path, &mut self.rng);
                        base::put(&mut message, &path, Some(Value::String(id.clone())));
                        let key = format!(
                            "{} {}={id} as {}",
                            method.label(),
                            path.iter()
                                .map(|field| field.name())
                                .collect::<Vec<_>>()
                                .join("."),
                            caller_kind(&who)
                        );
                        requests.push((key, method.clone(), who.clone(), message));
                    }
                }
            }
        }
        let calls = requests
            .iter()
            .map(|(_, method, who, message)| Call {
                who: who.clone(),
                kind: method.kind,
                path: method.path.clone(),
                body: prost::Message::encode_to_vec(message),
            })
            .collect();
        let answers = self.wire.call_all(self.stack, calls).await;
        for ((key, method, _, _), answer) in requests.into_iter().zip(answers) {
            let body = DynamicMessage::decode(method.output.clone(), answer.body.as_slice())
                .ok()
                .and_then(|reply| serde_json::to_string(&reply).ok())
                .unwrap_or_default();
            view.insert(key, format!("{:?} {body}", answer.code));
        }
        view
    }
}

/// The reads whose answers differ between two views: before and after, or twice in a row (those
/// change by themselves, such as a check's own time, and are left out of the comparison).
pub(crate) fn differences(before: &View, after: &View) -> BTreeSet<String> {
    before
        .iter()
        .filter(|(key, answer)| after.get(*key) != Some(*answer))
        .map(|(key, _)| key.clone())
        .collect()
}
