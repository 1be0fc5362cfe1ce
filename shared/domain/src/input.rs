//! Input checks every service applies alike (domain.md §7, quality.md §2): fixed-description
//! problems that never echo the value, free text, support tickets, ids, request timestamps and page
//! sizes. Nothing is trimmed or repaired: a value is taken as given or refused.

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use uuid::Uuid;

use crate::FieldProblem;

/// A problem with a fixed, non-echoing description; `field` is named where the value is read.
pub fn field_problem(
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
pub fn required() -> FieldProblem {
    field_problem("REQUIRED", "this field is required", "TNR004")
}

/// Unicode format characters (category Cf) that can disguise text, such as bidirectional overrides
/// and zero-width characters; std has no category table, so the ranges are listed.
fn is_format_character(character: char) -> bool {
    matches!(character as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// True for characters free text may hold: no control or format characters (TNR013).
pub fn is_free_text_character(character: char) -> bool {
    !character.is_control() && !is_format_character(character)
}

/// Free text such as a reason: at most `max` characters (at least `min`), no control or format
/// characters (TNR013).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeText(String);

impl FreeText {
    /// An optional reason of up to 500 characters.
    pub fn reason(raw: &str) -> Result<Self, FieldProblem> {
        Self::bounded(raw, 0, 500)
    }

    /// An operator's reason: 10 to 500 characters.
    pub fn operator_reason(raw: &str) -> Result<Self, FieldProblem> {
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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A support ticket, `^[A-Z][A-Z0-9]{1,9}-[0-9]{1,9}$` (`OPS-1234`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket(String);

impl Ticket {
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Tenure id: a canonical lowercase UUID of 36 characters.
pub fn parse_id(raw: &str) -> Result<Uuid, FieldProblem> {
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
pub fn check_instant(
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
pub struct PageRequest {
    pub size: u64,
    pub offset: u64,
}

impl PageRequest {
    pub const DEFAULT_SIZE: u64 = 50;

    pub fn size(raw: u32) -> Result<u64, FieldProblem> {
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
    pub fn bad_token() -> FieldProblem {
        field_problem(
            "PAGE_TOKEN_INVALID",
            "the page token does not belong to this query",
            "TNR004",
        )
    }
}
