//! Valid-looking requests, built from the descriptors and the fuzzed tenant's real objects, so that
//! each malformed variant differs from a request the handler accepts (or refuses for a business reason)
//! in exactly the fields the sweep spoiled.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use super::catalogue::Method;
use super::values::Rng;
use super::world::{IdKind, TenantWorld};
use crate::orders::close_member_acknowledgements;
use crate::stack::MANAGEMENT;

/// What base requests are made of.
pub(crate) struct Builder<'a> {
    pub(crate) world: &'a TenantWorld,
    /// Seconds since the epoch on the stack's clock.
    pub(crate) now: i64,
}

/// The field path the sweep spoils: each step a field of the message the previous step names (a
/// repeated message's first element).
pub(crate) type Path = Vec<FieldDescriptor>;

pub(crate) fn is_well_known(descriptor: &MessageDescriptor) -> bool {
    descriptor.full_name().starts_with("google.protobuf.")
}

/// Every field path of `descriptor`: each field, and the fields of its (non-well-known) messages.
pub(crate) fn paths(descriptor: &MessageDescriptor) -> Vec<Path> {
    fn walk(descriptor: &MessageDescriptor, prefix: &[FieldDescriptor], out: &mut Vec<Path>) {
        for field in descriptor.fields() {
            let mut path = prefix.to_vec();
            path.push(field.clone());
            out.push(path.clone());
            if let Kind::Message(inner) = field.kind()
                && !is_well_known(&inner)
                && prefix.len() < 4
            {
                walk(&inner, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(descriptor, &[], &mut out);
    out
}

/// Which member of each oneof a path goes through: the bases of two paths with the same choices are
/// the same request.
pub(crate) fn choices(path: &[FieldDescriptor]) -> String {
    path.iter()
        .filter(|field| field.containing_oneof().is_some())
        .map(FieldDescriptor::full_name)
        .collect::<Vec<_>>()
        .join(",")
}

fn timestamp(seconds: i64) -> Value {
    let mut message = DynamicMessage::new(
        super::catalogue::pool()
            .get_message_by_name("google.protobuf.Timestamp")
            .expect("timestamp"),
    );
    message.set_field_by_name("seconds", Value::I64(seconds));
    Value::Message(message)
}

const DAY: i64 = 86_400;

impl Builder<'_> {
    /// A valid-looking request for `method` that goes through the oneof members `path` names.
    pub(crate) fn base(
        &self,
        method: &Method,
        path: &[FieldDescriptor],
        rng: &mut Rng,
    ) -> DynamicMessage {
        self.message(&method.input, path, rng, 0)
    }

    fn message(
        &self,
        descriptor: &MessageDescriptor,
        forced: &[FieldDescriptor],
        rng: &mut Rng,
        depth: usize,
    ) -> DynamicMessage {
        let mut message = DynamicMessage::new(descriptor.clone());
        let next = forced.first();
        for field in descriptor.fields() {
            if let Some(oneof) = field
                .containing_oneof()
                .filter(|oneof| !oneof.is_synthetic())
            {
                let chosen = next
                    .filter(|wanted| {
                        wanted
                            .containing_oneof()
                            .is_some_and(|other| other.full_name() == oneof.full_name())
                    })
                    .cloned()
                    .or_else(|| oneof.fields().next());
                if chosen.is_some_and(|chosen| chosen.number() != field.number()) {
                    continue;
                }
            }
            let rest = match next {
                Some(wanted) if wanted.number() == field.number() => &forced[1..],
                _ => &[],
            };
            if let Some(value) = self.value(descriptor, &field, rest, rng, depth) {
                message.set_field(&field, value);
            }
        }
        message
    }

    fn value(
        &self,
        parent: &MessageDescriptor,
        field: &FieldDescriptor,
        forced: &[FieldDescriptor],
        rng: &mut Rng,
        depth: usize,
    ) -> Option<Value> {
        if field.is_map() {
            return None;
        }
        if field.name() == "acknowledgements" {
            return Some(Value::List(
                close_member_acknowledgements()
                    .into_iter()
                    .map(Value::EnumNumber)
                    .collect(),
            ));
        }
        let single = self.single(parent, field, forced, rng, depth)?;
        Some(if field.is_list() {
            Value::List(vec![single])
        } else {
            single
        })
    }

    fn single(
        &self,
        parent: &MessageDescriptor,
        field: &FieldDescriptor,
        forced: &[FieldDescriptor],
        rng: &mut Rng,
        depth: usize,
    ) -> Option<Value> {
        let name = field.name();
        Some(match field.kind() {
            Kind::String => Value::String(self.string(parent, name, rng)),
            Kind::Bool => Value::Bool(!matches!(name, "uses_organizations" | "retain_stacks")),
            Kind::Uint32 => Value::U32(match name {
                "page_size" | "max_batch" => 10,
                "score" => 4,
                "stuck_for_seconds" => 60,
                _ => 1,
            }),
            Kind::Int64 => Value::I64(if name == "amount_micros" {
                1_250_000
            } else {
                1
            }),
            Kind::Int32 => Value::I32(1),
            Kind::Uint64 => Value::U64(1),
            Kind::Enum(descriptor) => Value::EnumNumber(
                descriptor
                    .values()
                    .map(|value| value.number())
                    .find(|number| *number != 0)
                    .unwrap_or(0),
            ),
            Kind::Message(inner) => match inner.full_name() {
                "google.protobuf.Timestamp" => timestamp(self.instant(name)),
                "google.protobuf.Duration" => {
                    let mut message = DynamicMessage::new(inner);
                    message.set_field_by_name("seconds", Value::I64(60));
                    Value::Message(message)
                }
                "google.protobuf.FieldMask" => {
                    let mut message = DynamicMessage::new(inner);
                    message.set_field_by_name(
                        "paths",
                        Value::List(vec![Value::String("display_name".to_owned())]),
                    );
                    Value::Message(message)
                }
                _ if depth > 4 => return None,
                _ => Value::Message(self.message(&inner, forced, rng, depth + 1)),
            },
            _ => return None,
        })
    }

    /// A time in the range requests accept, by what the field means.
    fn instant(&self, name: &str) -> i64 {
        match name {
            "period_start" | "created_after" => self.now - 2 * DAY,
            "period_end" | "recorded_since" => self.now - DAY,
            "created_before" | "billing_starts_at" => self.now + DAY,
            "billing_ends_at" => self.now + 30 * DAY,
            _ => self.now - 60,
        }
    }

    fn string(&self, parent: &MessageDescriptor, name: &str, rng: &mut Rng) -> String {
        let world = self.world;
        let unique = rng.alphanumeric(10);
        let order_details = parent.full_name().ends_with("Order");
        if let Some(kind) = IdKind::of_field(parent.full_name(), name) {
            return match (kind, name) {
                // A customer transfers an account of its own: a fresh one, so each order is new.
                (IdKind::AwsAccount, "management_account_id" | "linked_account_ids")
                    if order_details =>
                {
                    format!("{:012}", rng.below(1_000_000_000_000))
                }
                (IdKind::AwsAccount, "management_account_id" | "source_management_account_id") => {
                    MANAGEMENT.to_owned()
                }
                (IdKind::PageToken, _) => String::new(),
                // The in-flight termination: the richest order to act on.
                (IdKind::Order, _) => world.all(IdKind::Order).get(1).cloned().unwrap_or_default(),
                (IdKind::Query, _) => rng.uuid().to_string(),
                _ => world.first(kind),
            };
        }
        match name {
            "idempotency_key" => format!("sweep-{unique}-{}", rng.alphanumeric(8)),
            "email" | "root_email" => format!("sweep-{unique}@example.com"),
            "support_contact" => format!("Grace Hopper {unique}"),
            "reason" => "the sweep checks this request".to_owned(),
            "ticket" => "OPS-1234".to_owned(),
            "display_name" | "account_name" | "name" | "source_name" | "transfer_name" => {
                format!("Sweep {unique}")
            }
            "marketplace_ref" | "subscription_ref" | "marketplace_event_ref" => {
                format!("MP-{unique}")
            }
            "idp_subject" => format!("idp|sweep-{unique}"),
            "subscription" => "sweep-billing".to_owned(),
            "currency" | "currency_code" => "USD".to_owned(),
            "service" => "AmazonEC2".to_owned(),
            "key" => "team".to_owned(),
            "value" => "core".to_owned(),
            "organization_id" => "o-abcdefghij".to_owned(),
            "parent_id" => "r-ab12".to_owned(),
            "organization_path" => "o-abcdefghij/r-ab12/".to_owned(),
            "regions" => "us-east-1".to_owned(),
            "types" => "order.placed".to_owned(),
            "definition" => "account_create".to_owned(),
            "note" | "comment" => "done as asked".to_owned(),
            _ => format!("sweep {unique}"),
        }
    }
}

/// The value at `path` in `message` (a repeated message's first element on the way), if set.
pub(crate) fn get(message: &DynamicMessage, path: &[FieldDescriptor]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut current = message.clone();
    for field in parents {
        current = match current.get_field(field).into_owned() {
            Value::Message(inner) => inner,
            Value::List(items) => match items.into_iter().next()? {
                Value::Message(inner) => inner,
                _ => return None,
            },
            _ => return None,
        };
    }
    current
        .has_field(last)
        .then(|| current.get_field(last).into_owned())
}

/// Sets (or, with None, clears) the value at `path`, creating the messages on the way.
pub(crate) fn put(message: &mut DynamicMessage, path: &[FieldDescriptor], value: Option<Value>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match value {
            Some(value) => message.set_field(first, value),
            None => message.clear_field(first),
        }
        return;
    }
    let Kind::Message(inner) = first.kind() else {
        return;
    };
    let slot = message.get_field_mut(first);
    match slot {
        Value::List(items) => {
            if items.is_empty() {
                items.push(Value::Message(DynamicMessage::new(inner)));
            }
            if let Some(Value::Message(element)) = items.first_mut() {
                put(element, rest, value);
            }
        }
        Value::Message(element) => put(element, rest, value),
        _ => {}
    }
}
