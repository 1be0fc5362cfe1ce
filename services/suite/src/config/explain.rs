//! Configuration errors in the words of the keys: which key, where it was set, and what form it takes.
//! figment's own messages name the Rust types being read and the source line of the provider, which
//! mean nothing to whoever edits a TOML file or an environment variable.

use figment::Source;
use figment::error::{Actual, Kind};

/// One line per problem in `error`; `variables` maps keys to the `TENURE_` variables that set them.
pub(crate) fn explain(error: figment::Error, variables: &[(String, String)]) -> Vec<String> {
    error
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let origin = variables
                .iter()
                .rev()
                .find(|(set, _)| *set == key)
                .map(|(_, variable)| format!(" (set by {variable})"))
                .or_else(
                    || match error.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                        Some(Source::File(path)) => Some(format!(" (in {})", path.display())),
                        _ => None,
                    },
                )
                .unwrap_or_default();
            let key = if key.is_empty() {
                "the configuration".to_owned()
            } else {
                key
            };
            format!("{key}{origin} {}", problem(&error.kind))
        })
        .collect()
}

fn problem(kind: &Kind) -> String {
    match kind {
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!("takes {}, not {}", form(expected), shown(actual))
        }
        Kind::InvalidLength(length, expected) => {
            format!("takes {}, not {length} items", form(expected))
        }
        Kind::UnknownVariant(given, known) => {
            format!("is one of {}, not `{given}`", quoted(known))
        }
        Kind::UnknownField(given, known) => {
            format!("has no key `{given}`; its keys are {}", quoted(known))
        }
        Kind::MissingField(name) => format!("needs `{name}`"),
        // Our own settings types word their messages for the reader already.
        Kind::Message(message) => message.clone(),
        _ => "has a value of the wrong form".to_owned(),
    }
}

/// What serde's `expected` says, as a person writing the value would put it.
fn form(expected: &str) -> String {
    match expected {
        "a sequence" => {
            "a list: [\"a\", \"b\"] in a TOML file, a comma-separated a,b in a TENURE_ variable"
                .to_owned()
        }
        "a boolean" => "true or false".to_owned(),
        "a string" => "text".to_owned(),
        "a map" => "a table of keys".to_owned(),
        "f32" | "f64" | "a float" => "a number".to_owned(),
        _ if expected.contains("integer")
            || ["u8", "u16", "u32", "u64", "usize", "i32", "i64"].contains(&expected) =>
        {
            "a whole number".to_owned()
        }
        // Derived `expecting` texts name Rust types (`struct ServerSettings`, paths with `::`).
        _ if expected.contains("::") || expected.starts_with("struct ") => {
            "a table of keys".to_owned()
        }
        _ if expected.starts_with("enum ") => "one of its named values".to_owned(),
        _ => expected.to_owned(),
    }
}

fn shown(actual: &Actual) -> String {
    match actual {
        Actual::Str(text) => format!("{text:?}"),
        Actual::Bool(flag) => flag.to_string(),
        Actual::Unsigned(number) => number.to_string(),
        Actual::Signed(number) => number.to_string(),
        Actual::Float(number) => number.to_string(),
        Actual::Char(c) => format!("{c:?}"),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a table".to_owned(),
        _ => "a value of another kind".to_owned(),
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
