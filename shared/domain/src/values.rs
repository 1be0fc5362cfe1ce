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
}
