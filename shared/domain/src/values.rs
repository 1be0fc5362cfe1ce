use std::fmt;

use crate::FieldProblem;

/// A 12-digit AWS account id. Always a string: leading zeros are significant (`012345678901`), so it is
/// never parsed into an integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AwsAccountId(String);

impl AwsAccountId {
    /// Accepts exactly 12 ASCII digits. Nothing is trimmed: `" 012345678901"` is refused, and so are
    /// non-ASCII digits, which a Unicode-aware `\d` would let through.
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if raw.len() == 12 && raw.bytes().all(|byte| byte.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldProblem {
                field: String::new(),
                reason: "AWS_ACCOUNT_ID_FORMAT",
                description: "an AWS account id is exactly 12 digits, for example 012345678901",
                catalogue_code: Some("TNR001"),
            })
        }
    }

    /// The id as AWS writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AwsAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Stored rows (saga inputs, order details) hold the id as a bare JSON string; a value that is not
// one fails to read rather than becoming something else.
impl serde::Serialize for AwsAccountId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AwsAccountId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&stored).map_err(|problem| serde::de::Error::custom(problem.description))
    }
}

/// A client-chosen idempotency key: 16 to 64 characters of `[A-Za-z0-9_-]`, so UUIDs in any common
/// spelling fit and nothing needs escaping in logs or metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Validates a key; an empty key is refused because every mutating RPC requires one.
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
        if raw.is_empty() {
            return Err(FieldProblem {
                field: String::new(),
                reason: "REQUIRED",
                description: "an idempotency key is required on every mutating request",
                catalogue_code: Some("TNR004"),
            });
        }
        if (16..=64).contains(&raw.len()) && raw.bytes().all(allowed) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldProblem {
                field: String::new(),
                reason: "IDEMPOTENCY_KEY_FORMAT",
                description: "an idempotency key is 16 to 64 characters of letters, digits, '-' or '_'",
                catalogue_code: Some("TNR004"),
            })
        }
    }

    /// The key as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_printable_ascii(byte: u8) -> bool {
    (0x20..=0x7E).contains(&byte)
}

/// The shape every email must have: one `@`, a local part free of whitespace and of
/// `" ' ( ) < > [ ] : ; , \ | % &` that does not start with `.`, and a domain of `[A-Za-z0-9.-]`
/// that contains a dot and neither starts nor ends with `.` or `-`.
pub fn has_email_shape(raw: &str) -> bool {
    if !raw.is_ascii() {
        return false;
    }
    let Some((local, domain)) = raw.split_once('@') else {
        return false;
    };
    let forbidden_in_local = |byte: u8| {
        byte.is_ascii_whitespace()
            || byte.is_ascii_control()
            || b"\"'()<>[]:;,\\|%&@".contains(&byte)
    };
    let domain_byte = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-';
    !local.is_empty()
        && !local.starts_with('.')
        && !local.bytes().any(forbidden_in_local)
        && domain.contains('.')
        && domain.bytes().all(domain_byte)
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
}

/// An AWS root email: 6 to 64 ASCII characters of the shape [`has_email_shape`] checks (TNR002).
/// Orders, accounts and provisioning all take it, so the rule lives once. Duplicate checks compare
/// [`RootEmail::key`]; the value is stored as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RootEmail(String);

impl RootEmail {
    /// Accepts the email as given or refuses it; nothing is trimmed or case-folded.
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if (6..=64).contains(&raw.len()) && has_email_shape(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldProblem {
                field: String::new(),
                reason: "EMAIL_FORMAT",
                description: "enter a root email address of 6 to 64 plain ASCII characters with one @ and a domain that contains a dot",
                catalogue_code: Some("TNR002"),
            })
        }
    }

    /// The email as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased copy that uniqueness compares.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

// As for `AwsAccountId`: the email as given, as a bare JSON string, refused when it is not one.
impl serde::Serialize for RootEmail {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RootEmail {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&stored).map_err(|problem| serde::de::Error::custom(problem.description))
    }
}

/// An account name for a new AWS account: 1 to 50 characters in U+0020–U+007E, without leading or
/// trailing spaces (TNR003).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountName(String);

impl AccountName {
    /// Accepts the name as given or refuses it.
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let valid = (1..=50).contains(&raw.len())
            && raw.bytes().all(is_printable_ascii)
            && !raw.starts_with(' ')
            && !raw.ends_with(' ');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldProblem {
                field: String::new(),
                reason: "ACCOUNT_NAME_FORMAT",
                description: "account names use 1 to 50 printable ASCII characters, without leading or trailing spaces",
                catalogue_code: Some("TNR003"),
            })
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as given.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_keep_leading_zeros_and_refuse_everything_else() {
        let parsed = AwsAccountId::parse("012345678901").expect("valid id");
        assert_eq!(parsed.as_str(), "012345678901");
        // The S14 corpus of quality.md.
        for bad in [
            "01234567890",
            "0123456789012",
            "01234567890a",
            " 012345678901",
            "٠١٢٣٤٥٦٧٨٩٠١",
            "012345678901\n",
            "",
        ] {
            let problem = AwsAccountId::parse(bad).expect_err(bad);
            assert_eq!(problem.reason, "AWS_ACCOUNT_ID_FORMAT");
            assert_eq!(problem.catalogue_code, Some("TNR001"));
        }
    }

    #[test]
    fn idempotency_keys_are_bounded_and_plain() {
        assert!(IdempotencyKey::parse("3f0c8a53-8d1b-4f59-9a2e-0c5a3b0f5e11").is_ok());
        assert!(IdempotencyKey::parse("abcdefghijklmnop").is_ok());
        assert_eq!(
            IdempotencyKey::parse("").expect_err("empty").reason,
            "REQUIRED"
        );
        for bad in ["short", "has space in the key!", &"x".repeat(65)] {
            assert_eq!(
                IdempotencyKey::parse(bad).expect_err(bad).reason,
                "IDEMPOTENCY_KEY_FORMAT"
            );
        }
    }
    #[test]
    fn root_emails_follow_the_aws_pattern_and_stricter_rules() {
        let email = RootEmail::parse("Root.Alias@Example.com").expect("valid");
        assert_eq!(email.key(), "root.alias@example.com");
        // The S16 corpus of quality.md.
        for bad in [
            "a@b.c",
            &format!("{}@example.com", "a".repeat(53)),
            "a@b@example.com",
            ".a@b.com",
            "a@-b.com",
            "a@b",
            "a(b)@c.com",
            "ä@b.com",
            "a@b.com.",
        ] {
            assert_eq!(RootEmail::parse(bad).expect_err(bad).reason, "EMAIL_FORMAT");
        }
    }

    #[test]
    fn account_names_are_printable_ascii_without_outer_spaces() {
        assert!(AccountName::parse(&"x".repeat(50)).is_ok());
        // The S15 corpus of quality.md.
        for bad in [
            "",
            &"x".repeat(51),
            "a\tb",
            "a\u{0}b",
            "é",
            "a\u{202E}b",
            " lead",
        ] {
            assert_eq!(
                AccountName::parse(bad).expect_err(bad).reason,
                "ACCOUNT_NAME_FORMAT"
            );
        }
    }
}
