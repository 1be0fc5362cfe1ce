//! Input rules of domain.md §7 that only provisioning checks.

use tenure_domain::FieldProblem;

/// A required opaque id with an AWS prefix (`h-`, `rt-`): the AWS pattern `^<prefix>[0-9a-z]{8,32}$`.
pub(crate) fn aws_id(raw: &str, prefix: &str) -> Result<(), FieldProblem> {
    let body = raw.strip_prefix(prefix).unwrap_or_default();
    if raw.is_empty() {
        return Err(required());
    }
    if (8..=32).contains(&body.len())
        && body
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase())
    {
        Ok(())
    } else {
        Err(FieldProblem {
            field: String::new(),
            reason: "AWS_ID_FORMAT",
            description: "not an identifier AWS issues",
            catalogue_code: Some("TNR004"),
        })
    }
}

/// A billing-transfer source name: 1–128 printable ASCII characters after non-ASCII characters were
/// replaced (domain.md §3.2: Tenure forces the tenant name into the AWS pattern).
pub(crate) fn source_name(raw: &str) -> Result<String, FieldProblem> {
    let forced: String = raw
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '-' })
        .take(128)
        .collect();
    if forced.trim().is_empty() {
        Err(required())
    } else {
        Ok(forced)
    }
}

/// An AWS region name such as `us-east-1`.
pub(crate) fn region(raw: &str) -> Result<(), FieldProblem> {
    let parts: Vec<&str> = raw.split('-').collect();
    let shaped = parts.len() >= 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()));
    if shaped && raw.len() <= 32 {
        Ok(())
    } else {
        Err(FieldProblem {
            field: String::new(),
            reason: "REGION_FORMAT",
            description: "an AWS region name such as us-east-1",
            catalogue_code: Some("TNR004"),
        })
    }
}

/// The problem of a missing required field.
pub(crate) fn required() -> FieldProblem {
    FieldProblem {
        field: String::new(),
        reason: "REQUIRED",
        description: "this field is required",
        catalogue_code: Some("TNR004"),
    }
}
