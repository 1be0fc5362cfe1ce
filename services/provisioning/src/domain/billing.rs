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

/// The start AWS gets after `START_DATE_TOO_EARLY` for `start_at`: the same hour a month later.
pub(crate) fn next_month_start(start_at: DateTime<Utc>) -> DateTime<Utc> {
    first_of_next_month(start_at)
}

/// The end AWS gets after `END_DATE_TOO_EARLY` for `end_at` (a month's last millisecond): the next
/// month's last millisecond.
pub(crate) fn next_month_end(end_at: DateTime<Utc>) -> DateTime<Utc> {
    end_of_month(end_at + Duration::milliseconds(1))
}

/// The end to report for a transfer that starts at `start_at` and was ended at `end_at`. A transfer ended
/// before it started (accepted in December for 1 January, withdrawn in December) never moved the bill:
/// it is reported as ending at its start, a zero-length transfer, never as ending before it began.
pub(crate) fn reported_end(start_at: DateTime<Utc>, end_at: DateTime<Utc>) -> DateTime<Utc> {
    end_at.max(start_at)
}

/// Whether an end refused as `END_DATE_TOO_EARLY` may move to `moved_end` (the next month's end) for a
/// transfer that starts at `start_at`, at `now`. Moving is AWS's own remedy once the month has turned
/// (domain.md §6.3), and harmless while the moved end still lies before the start (the transfer stays
/// zero-length) or once the transfer has started (it bills either way). Moving the end of a transfer that
/// has not started past its start would bill a month the customer withdrew before: that is no retry.
pub(crate) fn may_move_end(
    start_at: DateTime<Utc>,
    moved_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    moved_end < start_at || now >= start_at
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn end(year: i32, month: u32, day: u32) -> DateTime<Utc> {
        at(year, month, day, 0) + Duration::days(1) - Duration::milliseconds(1)
    }

    #[test]
    fn a_transfer_starts_on_the_first_the_customer_can_still_accept_in_time() {
        let three_days = Duration::hours(72);
        let rows = [
            // Mid-month: next month.
            (at(2026, 1, 15, 9), at(2026, 2, 1, 0)),
            // Across the year.
            (at(2026, 12, 10, 9), at(2027, 1, 1, 0)),
            // Exactly 72 h before the cut-off (31 Jan 00:00): still next month.
            (at(2026, 1, 28, 0), at(2026, 2, 1, 0)),
            // One hour later the window is too short: the month after.
            (at(2026, 1, 28, 1), at(2026, 3, 1, 0)),
            // The 29th trap, across the year: not 1 January but 1 February.
            (at(2026, 12, 29, 12), at(2027, 2, 1, 0)),
            // The last millisecond of a year.
            (end(2026, 12, 31), at(2027, 2, 1, 0)),
        ];
        for (now, expected) in rows {
            let start = transfer_start(now, three_days);
            assert_eq!(start, expected, "from {now}");
            assert!(is_first_of_month(start));
            assert!(accept_by(start) - now >= three_days);
        }
        // With no window beyond AWS's own 24 h cut-off, the 30th at noon still makes next month.
        assert_eq!(
            transfer_start(at(2026, 4, 29, 12), Duration::zero()),
            at(2026, 5, 1, 0)
        );
        assert_eq!(
            transfer_start(at(2026, 4, 30, 12), Duration::zero()),
            at(2026, 6, 1, 0),
            "past the 24 h cut-off"
        );
    }

    #[test]
    fn acceptance_closes_a_day_before_the_start() {
        assert_eq!(accept_by(at(2027, 1, 1, 0)), at(2026, 12, 31, 0));
        assert_eq!(ACCEPTANCE_CUTOFF, Duration::hours(24));
    }

    #[test]
    fn a_transfer_ends_at_the_last_millisecond_of_a_month() {
        let rows = [
            (at(2026, 1, 15, 9), end(2026, 1, 31)),
            (at(2026, 2, 1, 0), end(2026, 2, 28)),
            (at(2028, 2, 10, 0), end(2028, 2, 29)),
            (at(2026, 12, 31, 23), end(2026, 12, 31)),
            (end(2026, 4, 30), end(2026, 4, 30)),
        ];
        for (now, expected) in rows {
            let ends = end_of_month(now);
            assert_eq!(ends, expected, "from {now}");
            assert!(is_end_of_month(ends));
            assert!(!is_first_of_month(ends));
        }
        assert!(!is_end_of_month(at(2026, 1, 31, 0)));
        assert!(is_midnight(at(2026, 1, 31, 0)));
        assert!(!is_midnight(at(2026, 1, 31, 1)));
    }

    #[test]
    fn a_transfer_ended_before_its_start_reports_a_zero_length() {
        let start = at(2027, 1, 1, 0);
        assert_eq!(reported_end(start, end(2026, 12, 31)), start);
        assert_eq!(reported_end(start, end(2027, 1, 31)), end(2027, 1, 31));
    }

    #[test]
    fn a_refused_end_moves_only_where_it_bills_nothing_new() {
        let start = at(2027, 1, 1, 0);
        // Started already: the next month's end is AWS's remedy.
        assert!(may_move_end(start, end(2027, 1, 31), at(2027, 1, 1, 0)));
        // Not started, and the moved end is still before the start: zero length either way.
        assert!(may_move_end(
            at(2027, 3, 1, 0),
            end(2027, 1, 31),
            at(2026, 12, 10, 9)
        ));
        // Not started, and the moved end would run the transfer for January.
        assert!(!may_move_end(start, end(2027, 1, 31), at(2026, 12, 10, 9)));
    }

    #[test]
    fn too_early_dates_move_one_month() {
        assert_eq!(next_month_start(at(2026, 2, 1, 0)), at(2026, 3, 1, 0));
        assert_eq!(next_month_start(at(2026, 12, 1, 0)), at(2027, 1, 1, 0));
        assert_eq!(next_month_end(end(2026, 1, 31)), end(2026, 2, 28));
        assert_eq!(next_month_end(end(2027, 12, 31)), end(2028, 1, 31));
        assert_eq!(next_month_end(end(2028, 1, 31)), end(2028, 2, 29));
    }
}
