//! Amounts of money on the command line: decimals read exactly into millionths (`Money.amount_micros`),
//! never through floating point, and shown back the way the server words them (`123.45 USD`), so an
//! amount copied from a refusal or from `tenure accounts get` is the amount the server compares.

use tenure_proto::common::v1 as common;

use crate::cli::OpenBalanceArgs;

/// Millionths per unit of a currency.
const MICROS_PER_UNIT: i64 = 1_000_000;

/// Decimal places an amount may have: the contracts carry millionths.
const MAX_DECIMALS: usize = 6;

/// Parses `123.45`, `-0.5` (a credit) or `1000` into millionths, exactly. Refused: exponents,
/// thousands separators, more than six decimals, a leading `+`, and amounts outside what the
/// contracts carry.
pub fn parse_amount(text: &str) -> Result<i64, String> {
    let example = "write it like 123.45 or -0.50 (a credit)";
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty()
        || !digits_only(whole)
        || !digits_only(fraction)
        || (unsigned.contains('.') && fraction.is_empty())
    {
        return Err(format!("{text:?} is not an amount: {example}"));
    }
    if fraction.len() > MAX_DECIMALS {
        return Err(format!(
            "{text:?} has more than {MAX_DECIMALS} decimals; amounts are exact to a millionth"
        ));
    }
    let too_large = || format!("{text:?} is too large an amount");
    let units: i64 = whole.parse().map_err(|_| too_large())?;
    // Right-padded to six places: `.5` is 500000 millionths.
    let micros: i64 = format!("{fraction:0<MAX_DECIMALS$}")
        .parse()
        .map_err(|_| format!("{text:?} is not an amount: {example}"))?;
    let magnitude = units
        .checked_mul(MICROS_PER_UNIT)
        .and_then(|whole| whole.checked_add(micros))
        .ok_or_else(too_large)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Parses an ISO 4217 currency code: three letters, sent in capitals (`usd` is `USD`).
pub fn parse_currency(text: &str) -> Result<String, String> {
    if text.len() == 3 && text.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(format!(
            "{text:?} is not a currency code: give its three ISO 4217 letters, such as USD or EUR"
        ))
    }
}

/// The amount as the contracts carry it.
pub(crate) fn money(amount_micros: i64, currency_code: String) -> common::Money {
    common::Money {
        currency_code,
        amount_micros,
    }
}

/// The open balance a customer confirmed with `--open-balance` and `--currency` (clap requires
/// both or neither).
pub(crate) fn confirmed(balance: OpenBalanceArgs) -> Option<common::Money> {
    match (balance.open_balance, balance.currency) {
        (Some(amount_micros), Some(currency_code)) => Some(money(amount_micros, currency_code)),
        _ => None,
    }
}

/// `123.45 USD`: at least two decimals, more only where the millionths need them, as the server
/// shows amounts in its messages.
pub(crate) fn display(amount_micros: i64, currency_code: &str) -> String {
    let sign = if amount_micros < 0 { "-" } else { "" };
    // unsigned_abs keeps i64::MIN representable.
    let magnitude = amount_micros.unsigned_abs();
    let per_unit = MICROS_PER_UNIT.unsigned_abs();
    let mut fraction = format!("{:06}", magnitude % per_unit);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{sign}{}.{fraction} {currency_code}", magnitude / per_unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_exactly_into_millionths() {
        assert_eq!(parse_amount("123.45"), Ok(123_450_000));
        assert_eq!(parse_amount("0.1"), Ok(100_000));
        assert_eq!(parse_amount("1000"), Ok(1_000_000_000));
        assert_eq!(parse_amount("0.000001"), Ok(1));
        assert_eq!(parse_amount("-0.50"), Ok(-500_000));
        assert_eq!(parse_amount("007.5"), Ok(7_500_000));
        // The largest amount the contracts carry, and one millionth more.
        assert_eq!(parse_amount("9223372036854.775807"), Ok(i64::MAX));
        assert!(parse_amount("9223372036854.775808").is_err());
        for refused in [
            "",
            "-",
            ".5",
            "5.",
            "1,000.00",
            "1e3",
            "+5",
            "12.3456789",
            "abc",
            "1.2.3",
            "--1",
            " 1",
        ] {
            assert!(parse_amount(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn currencies_are_three_letters_in_capitals() {
        assert_eq!(parse_currency("USD").as_deref(), Ok("USD"));
        assert_eq!(parse_currency("eur").as_deref(), Ok("EUR"));
        for refused in ["US", "USDT", "U$D", "", "12A"] {
            assert!(parse_currency(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn amounts_show_as_the_server_words_them() {
        assert_eq!(display(123_450_000, "USD"), "123.45 USD");
        assert_eq!(display(1_500_000, "EUR"), "1.50 EUR");
        assert_eq!(display(0, "USD"), "0.00 USD");
        assert_eq!(display(1_234_567, "USD"), "1.234567 USD");
        assert_eq!(display(-500_000, "USD"), "-0.50 USD");
        assert_eq!(display(i64::MIN, "USD"), "-9223372036854.775808 USD");
        for micros in [0, 1, 99, 123_450_000, -7, i64::MAX] {
            let shown = display(micros, "USD");
            let amount = shown.strip_suffix(" USD").expect("currency");
            assert_eq!(parse_amount(amount), Ok(micros), "{shown} reads back");
        }
    }
}
