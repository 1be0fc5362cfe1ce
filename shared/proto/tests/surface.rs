//! The reviewed surface of Tenure's contracts: every method with its streaming kind, every field with its
//! number, type and label (oneof membership included), and every enum value, in one sorted snapshot.
//!
//! Generated code cannot go stale, but the contracts can drift unnoticed; with this snapshot a contract
//! change shows up as a `.snap` diff beside the `.proto` diff, and a renumbered field cannot hide.

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet};

#[test]
fn contract_surface_is_reviewed() {
    let set = FileDescriptorSet::decode(tenure_proto::FILE_DESCRIPTOR_SET)
        .expect("build.rs writes a valid descriptor set");
    let mut lines = Vec::new();
    for file in set
        .file
        .iter()
        .filter(|file| file.package().starts_with("tenure."))
    {
        let package = file.package();
        for service in &file.service {
            for method in &service.method {
                let client_stream = if method.client_streaming() {
                    " (client stream)"
                } else {
                    ""
                };
                let server_stream = if method.server_streaming() {
                    " (server stream)"
                } else {
                    ""
                };
                lines.push(format!(
                    "{package}.{}/{}{client_stream}{server_stream}",
                    service.name(),
                    method.name()
                ));
            }
        }
        for message in &file.message_type {
            describe_message(package, message, &mut lines);
        }
        for enumeration in &file.enum_type {
            describe_enum(package, enumeration, &mut lines);
        }
    }
    lines.sort();
    insta::assert_snapshot!(lines.join("\n"));
}

/// One line per field of `message` and of every message and enum nested in it.
fn describe_message(scope: &str, message: &DescriptorProto, lines: &mut Vec<String>) {
    let name = format!("{scope}.{}", message.name());
    for field in &message.field {
        lines.push(format!(
            "{name}.{} = {} ({}, {})",
            field.name(),
            field.number(),
            field_type(field),
            field_label(message, field)
        ));
    }
    for nested in &message.nested_type {
        describe_message(&name, nested, lines);
    }
    for enumeration in &message.enum_type {
        describe_enum(&name, enumeration, lines);
    }
}

fn describe_enum(scope: &str, enumeration: &EnumDescriptorProto, lines: &mut Vec<String>) {
    for value in &enumeration.value {
        lines.push(format!(
            "{scope}.{}.{} = {}",
            enumeration.name(),
            value.name(),
            value.number()
        ));
    }
}

/// The scalar's proto name (`string`, `int64`), or the full name of the message or enum it refers to.
fn field_type(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Enum | Type::Group => {
            field.type_name().trim_start_matches('.').to_owned()
        }
        scalar => scalar
            .as_str_name()
            .trim_start_matches("TYPE_")
            .to_ascii_lowercase(),
    }
}

/// How the field is present: `singular`, `optional` (explicit presence), `repeated`, `required` or the
/// oneof it belongs to. Proto3 `optional` sits in a synthetic oneof, which is not a oneof to review.
fn field_label(message: &DescriptorProto, field: &FieldDescriptorProto) -> String {
    match (field.label(), field.oneof_index) {
        (Label::Repeated, _) => "repeated".to_owned(),
        (Label::Required, _) => "required".to_owned(),
        (Label::Optional, _) if field.proto3_optional() => "optional".to_owned(),
        (Label::Optional, Some(index)) => {
            let oneof = usize::try_from(index)
                .ok()
                .and_then(|index| message.oneof_decl.get(index))
                // protox validates the set, so the fallback only shows a broken descriptor in review.
                .map_or("?", |oneof| oneof.name());
            format!("oneof {oneof}")
        }
        (Label::Optional, None) => "singular".to_owned(),
    }
}
