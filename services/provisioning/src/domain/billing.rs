//! The calendar rules of billing transfers (domain.md §3.2, §6.4): a transfer starts at 00:00:00 UTC on
//! the 1st of a month, must be accepted 24 hours before that, and ends at the last millisecond of a month.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

/// AWS wants the invitation accepted at least this long before the start.
pub(crate) const ACCEPTANCE_CUTOFF: Duration = Duration::hours(24);

/// 00:00:00 UTC on the 1st of the month after the one `at` falls in.
pub(crate) fn first_of_next_month(at: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    // The 1st at midnight exists in every month of every year chrono supports; the fallback keeps the
    // function total without a panic path.
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(at)
}

/// The last moment the customer can accept a transfer that starts at `start_at`.
pub(crate) fn accept_by(start_at: DateTime<Utc>) -> DateTime<Utc> {
    start_at - ACCEPTANCE_CUTOFF
}

/// The earliest 1st of a month whose acceptance cut-off still leaves the customer `min_window` from
/// `now`. Always taking "next month" is the known trap: an invitation sent on the 29th would expire
/// before anyone could accept it (domain.md §3.2).
pub(crate) fn transfer_start(now: DateTime<Utc>, min_window: Duration) -> DateTime<Utc> {
    let mut start = first_of_next_month(now);
    while accept_by(start) - now < min_window {
        start = first_of_next_month(start);
    }
    start
}

/// 23:59:59.999 UTC on the last day of the month `at` falls in: the only end AWS accepts.
pub(crate) fn end_of_month(at: DateTime<Utc>) -> DateTime<Utc> {
    first_of_next_month(at) - Duration::milliseconds(1)
}

/// True when `at` is 00:00:00.000 UTC on a 1st.
pub(crate) fn is_first_of_month(at: DateTime<Utc>) -> bool {
    at.day() == 1 && is_midnight(at)
}

/// True when `at` is 00:00:00.000 UTC.
pub(crate) fn is_midnight(at: DateTime<Utc>) -> bool {
    at.timestamp_subsec_nanos() == 0 && at.timestamp().rem_euclid(86_400) == 0
}

/// True when `at` is the last millisecond of a month.
pub(crate) fn is_end_of_month(at: DateTime<Utc>) -> bool {
    is_first_of_month(at + Duration::milliseconds(1))
}
