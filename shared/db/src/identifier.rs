//! SQL identifiers that must be spliced into statements (schema names, DDL), because PostgreSQL
//! cannot bind them as parameters. Only names matching [`PATTERN`] are ever spliced.

/// The accepted shape: a lowercase PostgreSQL identifier that needs no quoting and fits in
/// `NAMEDATALEN - 1` bytes.
pub(crate) const PATTERN: &str = "^[a-z_][a-z0-9_]{0,62}$";

/// Whether `name` matches [`PATTERN`].
pub(crate) fn is_valid(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    name.len() <= 63
        && (first.is_ascii_lowercase() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// `name` as a double-quoted identifier, with embedded quotes doubled, so even a name that skipped
/// validation cannot end the identifier early.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
