//! The `Retry-After` response header (RFC 9110 §10.2.3): either
//! delta-seconds or an HTTP-date. Unparsable values are ignored, dates in
//! the past mean "now", and every delay is capped at [`MAX_RETRY_AFTER`]
//! so a receiver cannot park a notification for days.

use std::time::Duration;

/// The longest delay a receiver may ask for; beyond it the outbox's own
/// backoff decides.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The delay `value` asks for, as of `now_ms`.
pub fn parse(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than fit in a u64 are still "a long time".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at_ms = http_date_ms(value)?;
        Duration::from_millis(at_ms.saturating_sub(now_ms).max(0) as u64)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses the three HTTP-date forms recipients must accept:
/// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate),
/// `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850) and
/// `Sun Nov  6 08:49:37 1994` (asctime), to ms since the epoch.
fn http_date_ms(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (day, month, year, clock) = match words.as_slice() {
        [_, day, month, year, clock, "GMT"] => (*day, *month, year.parse().ok()?, *clock),
        [_, date, clock, "GMT"] => {
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            let year: i64 = year.parse().ok()?;
            // RFC 9110: a two-digit year more than 50 years ahead is in
            // the past century; 1970–2069 covers every real header.
            let year = if year < 70 { 2000 + year } else { 1900 + year };
            (day, month, year, *clock)
        }
        [_, month, day, clock, year] => (*day, *month, year.parse().ok()?, *clock),
        _ => return None,
    };
    let day: i64 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let mut hms = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + h) * 60 + m) * 60_000 + s * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z.
    const AT_MS: i64 = 784_111_777_000;

    #[test]
    fn delta_seconds_and_cap() {
        assert_eq!(parse("7", 0), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 ", 0), Some(Duration::ZERO));
        assert_eq!(parse("86400", 0), Some(MAX_RETRY_AFTER));
        assert_eq!(parse("99999999999999999999999", 0), Some(MAX_RETRY_AFTER));
        assert_eq!(parse("-5", 0), None);
        assert_eq!(parse("soon", 0), None);
        assert_eq!(parse("", 0), None);
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        let now = AT_MS - 30_000;
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse(form, now), Some(Duration::from_secs(30)), "{form}");
        }
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:49:37 GMT", AT_MS + 1),
            Some(Duration::ZERO)
        );
        assert_eq!(parse("Sun, 06 Foo 1994 08:49:37 GMT", now), None);
        assert_eq!(parse("Sun, 06 Nov 1994 25:49:37 GMT", now), None);
    }
}
