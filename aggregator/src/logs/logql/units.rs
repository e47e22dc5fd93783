//! Durations and byte sizes, as LogQL writes them in ranges, offsets, label
//! filters and `unwrap duration(...)` / `unwrap bytes(...)`.
//!
//! - Durations are sequences of `<number><unit>` (`5m`, `1h30m`, `1.5s`,
//!   `250ms`) with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, and, as in
//!   Prometheus range selectors, `d`, `w` and `y` (365 days). Label values
//!   may carry a sign (`-1s`), as Go's `time.ParseDuration` accepts.
//! - Byte sizes are `<number>[ ]<unit>` with SI units (`kb` = 1000, `mb`,
//!   `gb`, `tb`, `pb`, `eb`) and IEC units (`kib` = 1024, `mib`, ...), case
//!   insensitive, as go-humanize's `ParseBytes` (which Loki uses) accepts.
//!   A bare number is a byte count.

const NANOS_PER_SECOND: f64 = 1e9;

/// Nanoseconds per duration unit.
fn duration_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        "w" => 7.0 * 86_400e9,
        "y" => 365.0 * 86_400e9,
        _ => return None,
    })
}

/// Parses an unsigned duration such as `1h30m` into nanoseconds; `None`
/// when the text is not one (a bare number has no unit, so is not one).
pub(crate) fn parse_duration_nanos(text: &str) -> Option<f64> {
    let mut rest = text;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        total += number * duration_unit(&rest[..unit_len])?;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total < i64::MAX as f64).then_some(total)
}

/// Parses a label value as a Go duration (`-1.5s`, `250ms`) into seconds.
pub(crate) fn parse_duration_seconds(text: &str) -> Option<f64> {
    let (sign, unsigned) = match text.as_bytes().first()? {
        b'-' => (-1.0, &text[1..]),
        b'+' => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if unsigned == "0" {
        return Some(0.0);
    }
    Some(sign * parse_duration_nanos(unsigned)? / NANOS_PER_SECOND)
}

/// Bytes per size unit (lowercase).
fn bytes_unit(unit: &str) -> Option<f64> {
    const K: f64 = 1000.0;
    const KI: f64 = 1024.0;
    Some(match unit {
        "" | "b" => 1.0,
        "k" | "kb" => K,
        "m" | "mb" => K * K,
        "g" | "gb" => K * K * K,
        "t" | "tb" => K.powi(4),
        "p" | "pb" => K.powi(5),
        "e" | "eb" => K.powi(6),
        "ki" | "kib" => KI,
        "mi" | "mib" => KI * KI,
        "gi" | "gib" => KI * KI * KI,
        "ti" | "tib" => KI.powi(4),
        "pi" | "pib" => KI.powi(5),
        "ei" | "eib" => KI.powi(6),
        _ => return None,
    })
}

/// Parses a byte size such as `1.5 KiB` or `200` into bytes.
pub(crate) fn parse_bytes(text: &str) -> Option<f64> {
    let text = text.trim();
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number: f64 = text[..number_len].parse().ok()?;
    let unit = text[number_len..].trim_start().to_ascii_lowercase();
    let value = number * bytes_unit(&unit)?;
    value.is_finite().then_some(value)
}

/// Whether a query token with a unit is a byte size rather than a duration:
/// its unit ends in `b` (`10kb`, `1MiB`, `5B`), so `5m` stays five minutes.
pub(crate) fn is_bytes_literal(text: &str) -> bool {
    text.ends_with(['b', 'B']) && parse_bytes(text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_compound_and_fractional_units() {
        assert_eq!(parse_duration_nanos("5m"), Some(300e9));
        assert_eq!(parse_duration_nanos("1h30m"), Some(5400e9));
        assert_eq!(parse_duration_nanos("250ms"), Some(250e6));
        assert_eq!(parse_duration_nanos("1d"), Some(86_400e9));
        assert_eq!(parse_duration_nanos("5"), None);
        assert_eq!(parse_duration_nanos("5x"), None);
        assert_eq!(parse_duration_seconds("-1.5s"), Some(-1.5));
        assert_eq!(parse_duration_seconds("0"), Some(0.0));
        assert_eq!(parse_duration_seconds("300"), None);
    }

    #[test]
    fn byte_sizes_parse_si_and_iec_units() {
        assert_eq!(parse_bytes("1KB"), Some(1000.0));
        assert_eq!(parse_bytes("1 KiB"), Some(1024.0));
        assert_eq!(parse_bytes("2mb"), Some(2e6));
        assert_eq!(parse_bytes("42"), Some(42.0));
        assert_eq!(parse_bytes("1 parsec"), None);
        assert!(is_bytes_literal("10MB"));
        assert!(!is_bytes_literal("10m"));
    }
}
