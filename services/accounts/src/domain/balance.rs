//! Open balances the billing system reports per AWS account (seed 001: "check if you have an outstanding
//! bill"), and the exact amounts a customer confirms before a termination.

use chrono::{DateTime, Utc};
use tenure_domain::FieldProblem;

use crate::domain::values::CurrencyCode;
use crate::domain::{check_instant, field_problem};

/// An amount of money in one currency, exact to a millionth of its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Money {
    pub(crate) currency: CurrencyCode,
    /// Millionths of the unit; negative for a credit.
    pub(crate) micros: i64,
}

impl Money {
    /// An amount with a well-formed ISO 4217 currency code; the problem is the currency's.
    pub(crate) fn parse(currency: &str, micros: i64) -> Result<Self, FieldProblem> {
        Ok(Self {
            currency: CurrencyCode::parse(currency)?,
            micros,
        })
    }

    /// `123.45 USD`: two decimals, more only where the millionths need them.
    pub(crate) fn display(&self) -> String {
        format!("{} {}", decimal(self.micros), self.currency.as_str())
    }
}

/// An open balance as the billing system computed it at `as_of`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenBalance {
    pub(crate) amount: Money,
    pub(crate) as_of: DateTime<Utc>,
}

impl OpenBalance {
    /// Whether a termination must have this balance confirmed: anything but zero, a credit included,
    /// since the customer must know what is settled after the account leaves.
    pub(crate) fn needs_confirmation(&self) -> bool {
        self.amount.micros != 0
    }

    /// Whether `report` replaces this recorded balance: an older report is ignored, so reports that
    /// arrive out of order never bring back a stale amount.
    pub(crate) fn is_superseded_by(&self, report_as_of: DateTime<Utc>) -> bool {
        report_as_of >= self.as_of
    }
}

/// A decimal rendering of `micros` millionths: at least two decimals, trailing zeros beyond them
/// dropped (`1500000` → `1.50`, `1234567` → `1.234567`, `-500000` → `-0.50`).
pub(crate) fn decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    // unsigned_abs keeps i64::MIN representable.
    let magnitude = micros.unsigned_abs();
    let mut fraction = format!("{:06}", magnitude % 1_000_000);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{sign}{}.{fraction}", magnitude / 1_000_000)
}

/// When a balance was computed: a past instant, not before 2020-01-01 (TNR004).
pub(crate) fn check_reported_at(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FieldProblem> {
    let at = check_instant(at, now)?;
    if at <= now {
        Ok(at)
    } else {
        Err(field_problem(
            "TIMESTAMP_IN_FUTURE",
            "a balance cannot be computed in the future",
            "TNR004",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone as _};

    #[test]
    fn amounts_show_two_decimals_and_more_only_when_needed() {
        assert_eq!(decimal(123_450_000), "123.45");
        assert_eq!(decimal(1_500_000), "1.50");
        assert_eq!(decimal(0), "0.00");
        assert_eq!(decimal(1_234_567), "1.234567");
        assert_eq!(decimal(1_230_000), "1.23");
        assert_eq!(decimal(1_234_500), "1.2345");
        assert_eq!(decimal(-500_000), "-0.50");
        assert_eq!(decimal(7), "0.000007");
        assert_eq!(decimal(i64::MIN), "-9223372036854.775808");
    }

    #[test]
    fn money_needs_an_iso_currency_code() {
        let money = Money::parse("USD", 123_450_000).expect("valid");
        assert_eq!(money.display(), "123.45 USD");
        for bad in ["usd", "US", "USDT", "U$D", ""] {
            let problem = Money::parse(bad, 1).expect_err(bad);
            assert_eq!(problem.catalogue_code, Some("TNR004"), "{bad}");
        }
    }

    #[test]
    fn only_a_balance_that_is_not_zero_needs_confirming() {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("date");
        let balance = |micros| OpenBalance {
            amount: Money::parse("EUR", micros).expect("valid"),
            as_of: at,
        };
        assert!(!balance(0).needs_confirmation());
        assert!(balance(1).needs_confirmation());
        assert!(balance(-1).needs_confirmation(), "a credit is shown too");
    }

    #[test]
    fn an_older_report_never_replaces_a_newer_one() {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("date");
        let recorded = OpenBalance {
            amount: Money::parse("EUR", 5).expect("valid"),
            as_of: at,
        };
        assert!(recorded.is_superseded_by(at + Duration::seconds(1)));
        assert!(recorded.is_superseded_by(at), "the same report again");
        assert!(!recorded.is_superseded_by(at - Duration::seconds(1)));
    }

    #[test]
    fn a_balance_is_computed_in_the_past_and_after_2020() {
        let now = Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(check_reported_at(now, now), Ok(now));
        let future = check_reported_at(now + Duration::seconds(1), now).expect_err("future");
        assert_eq!(future.reason, "TIMESTAMP_IN_FUTURE");
        let old = Utc
            .with_ymd_and_hms(2019, 12, 31, 23, 59, 59)
            .single()
            .expect("date");
        assert_eq!(
            check_reported_at(old, now).expect_err("too old").reason,
            "TIMESTAMP_RANGE"
        );
    }
}
