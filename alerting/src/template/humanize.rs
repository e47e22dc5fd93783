//! Prometheus' humanize functions and `humanizeTimestamp`.
//!
//! Each follows Prometheus' `template.go`: `%.4g` with SI prefixes
//! (`humanize`), binary prefixes `ki Mi Gi …` (`humanize1024`, as
//! Prometheus spells them), `1d 2h 3m 4s` or `500ms`
//! (`humanizeDuration`), `12.34%` (`humanizePercentage`) and Go's
//! `time.Time` string in UTC at millisecond resolution
//! (`humanizeTimestamp`). Arguments may be numbers or numeric strings
//! (a label value), as Prometheus' `convertToFloat` allows.

use super::format::format_float;
use super::value::Value;

/// A number or a string that parses as one.
pub fn to_float(v: &Value<'_>) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => s
            .parse::<f64>()
            .map_err(|_| format!("can't convert {s:?} to a number")),
        other => Err(format!("can't convert {} to a number", other.type_name())),
    }
}

fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

const SI_UP: [&str; 8] = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
const SI_DOWN: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];
const BINARY: [&str; 8] = ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];

/// Scales `v` down by `base` per prefix while `|v| >= base`.
fn scale_up(mut v: f64, base: f64, prefixes: &[&'static str]) -> (f64, &'static str) {
    let mut prefix = "";
    for p in prefixes {
        if v.abs() < base {
            break;
        }
        prefix = p;
        v /= base;
    }
    (v, prefix)
}

/// Scales `v` up by 1000 per prefix while `|v| < 1`.
fn scale_down(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in SI_DOWN {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let (v, prefix) = if v.abs() >= 1.0 {
        scale_up(v, 1000.0, &SI_UP)
    } else {
        scale_down(v)
    };
    format!("{}{prefix}", g4(v))
}

pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let (v, prefix) = scale_up(v, 1024.0, &BINARY);
    format!("{}{prefix}", g4(v))
}

pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        // Saturating, where Go's conversion of huge floats is undefined.
        let whole = v as i64;
        let (days, hours) = (whole / 86_400, whole / 3600 % 24);
        let (minutes, seconds) = (whole / 60 % 60, whole % 60);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let (v, prefix) = scale_down(v);
    format!("{}{prefix}s", g4(v))
}

pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Unix seconds as Go prints a UTC `time.Time`:
/// `2015-06-23 13:19:44.128 +0000 UTC` (fraction only when non-zero).
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Ok(g4(v));
    }
    let nanos = v * 1e9;
    if nanos >= i64::MAX as f64 || nanos <= i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', None)
        ));
    }
    // Prometheus goes through model.Time, which has millisecond resolution.
    let millis = (nanos as i64) / 1_000_000;
    let (secs, milli) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_date(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    if milli != 0 {
        let fraction = format!("{milli:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    Ok(out)
}

/// The proleptic Gregorian date of a day count from 1970-01-01, computed
/// through 400-year eras of 146097 days each starting on March 1st.
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}
