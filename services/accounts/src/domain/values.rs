//! Validating newtypes for every input the service stores (domain.md §7, quality.md §2). Nothing is
//! trimmed or repaired: a value is taken as given or refused with a fixed description that never
//! echoes it.

use chrono::{DateTime, Utc};
use tenure_domain::FieldProblem;

pub(crate) use tenure_domain::{
    AccountName, FreeText, PageRequest, RootEmail, Ticket, check_instant, field_problem,
    has_email_shape, is_free_text_character, parse_id, required,
};

/// An unsupported combination of options (TNR008), named after `field`.
pub(crate) fn unsupported(field: &str, description: &'static str) -> FieldProblem {
    let mut problem = field_problem("UNSUPPORTED_COMBINATION", description, "TNR008");
    problem.field = field.to_owned();
    problem
}

fn is_printable_ascii(byte: u8) -> bool {
    (0x20..=0x7E).contains(&byte)
}

/// A login email: 6 to 254 ASCII characters of the same shape as a root email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginEmail(String);

impl LoginEmail {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if (6..=254).contains(&raw.len()) && has_email_shape(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "EMAIL_FORMAT",
                "enter an email address of 6 to 254 plain ASCII characters with one @ and a domain that contains a dot",
                "TNR002",
            ))
        }
    }

    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

/// A display name: 1 to 200 characters without control or format characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DisplayName(String);

impl DisplayName {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let length = raw.chars().count();
        if (1..=200).contains(&length) && raw.chars().all(is_free_text_character) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "DISPLAY_NAME_FORMAT",
                "a display name has 1 to 200 characters and no control characters",
                "TNR013",
            ))
        }
    }

    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

/// An identity provider's subject: 1 to 255 characters without control or format characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdpSubject(String);

impl IdpSubject {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let length = raw.chars().count();
        if (1..=255).contains(&length) && raw.chars().all(is_free_text_character) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "IDP_SUBJECT_FORMAT",
                "an identity provider subject has 1 to 255 characters and no control characters",
                "TNR013",
            ))
        }
    }

    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

/// A marketplace reference: 1 to 128 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarketplaceRef(String);

impl MarketplaceRef {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if (1..=128).contains(&raw.len()) && raw.bytes().all(is_printable_ascii) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "MARKETPLACE_REF_FORMAT",
                "a marketplace reference has 1 to 128 printable ASCII characters",
                "TNR004",
            ))
        }
    }

    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

fn matches_id(raw: &str, prefix: &str, parts: &[(usize, usize)]) -> bool {
    let Some(rest) = raw.strip_prefix(prefix) else {
        return false;
    };
    let segments: Vec<&str> = rest.split('-').collect();
    segments.len() == parts.len()
        && segments.iter().zip(parts).all(|(segment, (min, max))| {
            (*min..=*max).contains(&segment.len())
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        })
}

/// An AWS organization id, `^o-[a-z0-9]{10,32}$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrganizationId(String);

impl OrganizationId {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if matches_id(raw, "o-", &[(10, 32)]) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "ORGANIZATION_ID_FORMAT",
                "an organization id looks like o-abcdefghij",
                "TNR004",
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The root (`r-…`) or OU (`ou-…-…`) that contains an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParentId(String);

impl ParentId {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if matches_id(raw, "r-", &[(4, 32)]) || matches_id(raw, "ou-", &[(4, 32), (8, 32)]) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "PARENT_ID_FORMAT",
                "a parent is a root (r-ab12) or an organizational unit (ou-ab12-cdefghij)",
                "TNR004",
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurrencyCode(String);

impl CurrencyCode {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if raw.len() == 3 && raw.bytes().all(|byte| byte.is_ascii_uppercase()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "CURRENCY_FORMAT",
                "a currency is an ISO 4217 code such as USD",
                "TNR004",
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

/// An AWS tag: key 1 to 128 characters not starting with `aws:`, value up to 256.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tag {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// Validates up to 50 tags with unique keys and returns them sorted by key; problems are reported
/// per tag (`tags[3].key`).
pub(crate) fn parse_tags(
    field: &str,
    raw: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<Tag>, Vec<FieldProblem>> {
    let mut problems = tenure_domain::Problems::new();
    let mut tags: Vec<Tag> = Vec::new();
    for (index, (key, value)) in raw.into_iter().enumerate() {
        let key_length = key.chars().count();
        let bad_key = !(1..=128).contains(&key_length)
            || key.starts_with("aws:")
            || !key.chars().all(is_free_text_character)
            || tags.iter().any(|tag| tag.key == key);
        if bad_key {
            problems.check::<()>(
                format!("{field}[{index}].key"),
                Err(field_problem(
                    "TAG_KEY_FORMAT",
                    "a tag key has 1 to 128 characters, is unique and does not start with aws:",
                    "TNR004",
                )),
            );
        }
        if value.chars().count() > 256 || !value.chars().all(is_free_text_character) {
            problems.check::<()>(
                format!("{field}[{index}].value"),
                Err(field_problem(
                    "TAG_VALUE_FORMAT",
                    "a tag value has at most 256 characters",
                    "TNR004",
                )),
            );
        }
        tags.push(Tag { key, value });
    }
    if tags.len() > 50 {
        problems.check::<()>(
            field,
            Err(field_problem("TOO_MANY_TAGS", "at most 50 tags", "TNR004")),
        );
    }
    tags.sort();
    problems.finish(|| tags)
}

/// One cost record, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CostRecord {
    pub(crate) period_start: DateTime<Utc>,
    pub(crate) period_end: DateTime<Utc>,
    pub(crate) service: String,
    pub(crate) amount_micros: i64,
    pub(crate) currency: String,
}

impl CostRecord {
    /// Checks a period that ends after it starts and a service name of 1 to 128 printable ASCII
    /// characters; problems are named under `field`.
    pub(crate) fn parse(
        field: &str,
        period_start: Option<DateTime<Utc>>,
        period_end: Option<DateTime<Utc>>,
        service: &str,
        amount_micros: i64,
        currency: &str,
    ) -> Result<Self, Vec<FieldProblem>> {
        let mut problems = tenure_domain::Problems::new();
        let start = problems.check(
            format!("{field}.period_start"),
            period_start.ok_or_else(required),
        );
        let end = problems.check(
            format!("{field}.period_end"),
            period_end.ok_or_else(required),
        );
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            problems.check::<()>(
                format!("{field}.period_end"),
                Err(field_problem(
                    "PERIOD_ORDER",
                    "a period ends after it starts",
                    "TNR004",
                )),
            );
        }
        if !((1..=128).contains(&service.len()) && service.bytes().all(is_printable_ascii)) {
            problems.check::<()>(
                format!("{field}.service"),
                Err(field_problem(
                    "SERVICE_FORMAT",
                    "a service name has 1 to 128 printable ASCII characters",
                    "TNR004",
                )),
            );
        }
        let currency = problems.check(format!("{field}.currency"), CurrencyCode::parse(currency));
        match (start, end, currency, problems.is_empty()) {
            (Some(period_start), Some(period_end), Some(currency), true) => Ok(Self {
                period_start,
                period_end,
                service: service.to_owned(),
                amount_micros,
                currency: currency.into_inner(),
            }),
            _ => Err(problems.into_vec()),
        }
    }
}
