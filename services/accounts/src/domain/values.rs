//! Validating newtypes for every input the service stores (domain.md §7, quality.md §2). Nothing is
//! trimmed or repaired: a value is taken as given or refused with a fixed description that never
//! echoes it.

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use tenure_domain::FieldProblem;
use uuid::Uuid;

/// A problem with a fixed, non-echoing description; `field` is named where the value is read.
pub(crate) fn field_problem(
    reason: &'static str,
    description: &'static str,
    catalogue_code: &'static str,
) -> FieldProblem {
    FieldProblem {
        field: String::new(),
        reason,
        description,
        catalogue_code: Some(catalogue_code),
    }
}

/// A required field that was left empty (TNR004).
pub(crate) fn required() -> FieldProblem {
    field_problem("REQUIRED", "this field is required", "TNR004")
}

/// Unicode format characters (category Cf) that can disguise text, such as bidirectional overrides
/// and zero-width characters; std has no category table, so the ranges are listed.
fn is_format_character(character: char) -> bool {
    matches!(character as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
}

fn is_free_text_character(character: char) -> bool {
    !character.is_control() && !is_format_character(character)
}

fn is_printable_ascii(byte: u8) -> bool {
    (0x20..=0x7E).contains(&byte)
}

/// The shape every email must have: one `@`, a local part free of whitespace and of
/// `" ' ( ) < > [ ] : ; , \ | % &` that does not start with `.`, and a domain of `[A-Za-z0-9.-]`
/// that contains a dot and neither starts nor ends with `.` or `-`.
fn has_email_shape(raw: &str) -> bool {
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

/// An AWS root email: 6 to 64 ASCII characters of the shape above (TNR002). Duplicate checks compare
/// [`RootEmail::key`]; the value is stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RootEmail(String);

impl RootEmail {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        if (6..=64).contains(&raw.len()) && has_email_shape(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "EMAIL_FORMAT",
                "enter a root email address of 6 to 64 plain ASCII characters with one @ and a domain that contains a dot",
                "TNR002",
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased copy that uniqueness compares.
    pub(crate) fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
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

/// An account name for a new AWS account: 1 to 50 characters in U+0020–U+007E, without leading or
/// trailing spaces (TNR003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountName(String);

impl AccountName {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let valid = (1..=50).contains(&raw.len())
            && raw.bytes().all(is_printable_ascii)
            && !raw.starts_with(' ')
            && !raw.ends_with(' ');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "ACCOUNT_NAME_FORMAT",
                "account names use 1 to 50 printable ASCII characters, without leading or trailing spaces",
                "TNR003",
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

/// Free text such as a reason: at most `max` characters (at least `min`), no control or format
/// characters (TNR013).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FreeText(String);

impl FreeText {
    /// An optional reason of up to 500 characters.
    pub(crate) fn reason(raw: &str) -> Result<Self, FieldProblem> {
        Self::bounded(raw, 0, 500)
    }

    /// An operator's reason: 10 to 500 characters.
    pub(crate) fn operator_reason(raw: &str) -> Result<Self, FieldProblem> {
        Self::bounded(raw, 10, 500)
    }

    fn bounded(raw: &str, min: usize, max: usize) -> Result<Self, FieldProblem> {
        let length = raw.chars().count();
        if !raw.chars().all(is_free_text_character) {
            return Err(field_problem(
                "DISALLOWED_CHARACTERS",
                "this text contains characters that are not allowed",
                "TNR013",
            ));
        }
        if (min..=max).contains(&length) {
            Ok(Self(raw.to_owned()))
        } else if min > 0 {
            Err(field_problem(
                "TEXT_LENGTH",
                "give a reason of 10 to 500 characters",
                "TNR013",
            ))
        } else {
            Err(field_problem(
                "TEXT_LENGTH",
                "this text is limited to 500 characters",
                "TNR013",
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A support ticket, `^[A-Z][A-Z0-9]{1,9}-[0-9]{1,9}$` (`OPS-1234`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ticket(String);

impl Ticket {
    pub(crate) fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let valid = raw.split_once('-').is_some_and(|(project, number)| {
            let project = project.as_bytes();
            (2..=10).contains(&project.len())
                && project[0].is_ascii_uppercase()
                && project
                    .iter()
                    .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
                && (1..=9).contains(&number.len())
                && number.bytes().all(|byte| byte.is_ascii_digit())
        });
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(field_problem(
                "TICKET_FORMAT",
                "a ticket looks like OPS-1234",
                "TNR004",
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
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

    pub(crate) fn into_inner(self) -> String {
        self.0
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

    pub(crate) fn into_inner(self) -> String {
        self.0
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

/// A Tenure id: a canonical lowercase UUID of 36 characters.
pub(crate) fn parse_id(raw: &str) -> Result<Uuid, FieldProblem> {
    if raw.is_empty() {
        return Err(required());
    }
    match Uuid::try_parse(raw) {
        Ok(id) if id.hyphenated().to_string() == raw => Ok(id),
        _ => Err(field_problem(
            "ID_FORMAT",
            "an id is a lowercase UUID such as 3f0c8a53-8d1b-4f59-9a2e-0c5a3b0f5e11",
            "TNR004",
        )),
    }
}

/// A timestamp in a request: between 2020-01-01 and 400 days after `now`.
pub(crate) fn check_instant(
    instant: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FieldProblem> {
    let earliest = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single();
    let in_range = earliest.is_some_and(|earliest| instant >= earliest)
        && instant <= now + Duration::days(400);
    if in_range {
        Ok(instant)
    } else {
        Err(field_problem(
            "TIMESTAMP_RANGE",
            "a time lies between 2020-01-01 and 400 days from now",
            "TNR004",
        ))
    }
}

/// A page request: `page_size` 0 to 100 (0 means 50) and the offset an opaque token resumes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageRequest {
    pub(crate) size: u64,
    pub(crate) offset: u64,
}

impl PageRequest {
    pub(crate) const DEFAULT_SIZE: u64 = 50;

    pub(crate) fn size(raw: u32) -> Result<u64, FieldProblem> {
        match raw {
            0 => Ok(Self::DEFAULT_SIZE),
            1..=100 => Ok(u64::from(raw)),
            _ => Err(field_problem(
                "PAGE_SIZE_RANGE",
                "page_size is between 0 and 100",
                "TNR004",
            )),
        }
    }

    /// The problem of a token that is malformed or was issued for another query.
    pub(crate) fn bad_token() -> FieldProblem {
        field_problem(
            "PAGE_TOKEN_INVALID",
            "the page token does not belong to this query",
            "TNR004",
        )
    }
}
