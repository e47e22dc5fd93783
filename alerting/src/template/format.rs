//! Go's float formatting (`strconv.FormatFloat` as `fmt` uses it): `%e`,
//! `%f` and `%g` with or without a precision, and `%v`, which is `%g` with
//! the shortest digits that round-trip.
//!
//! Digits come from Rust's exact float formatting (shortest round-trip,
//! or correctly rounded to a number of significant digits); the choice of
//! notation and the layout follow Go: `%g` switches to exponent form when
//! the exponent is below -4 or at least the precision (6 for shortest),
//! exponents have at least two digits (`1e+06`), infinities print as
//! `+Inf`/`-Inf`.

/// Decimal digits of a finite, non-negative float: `0.d1d2… × 10^dp`,
/// without trailing zeros (none at all for zero).
struct Decimal {
    digits: Vec<u8>,
    dp: i64,
}

impl Decimal {
    /// `significant`: `None` for the shortest digits that round-trip.
    fn of(v: f64, significant: Option<usize>) -> Decimal {
        let s = match significant {
            None => format!("{v:e}"),
            Some(n) => format!("{:.*e}", n.saturating_sub(1), v),
        };
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i64 = exp.parse().unwrap_or(0);
        let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        let dp = if digits.is_empty() { 0 } else { exp + 1 };
        Decimal { digits, dp }
    }

    fn nd(&self) -> i64 {
        i64::try_from(self.digits.len()).unwrap_or(i64::MAX)
    }

    fn digit(&self, i: i64) -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.digits.get(i))
            .map_or('0', |d| char::from(*d))
    }

    /// `%e` layout with `prec` digits after the point.
    fn exp_form(&self, out: &mut String, prec: i64, upper: bool) {
        out.push(self.digit(0));
        if prec > 0 {
            out.push('.');
            for i in 1..=prec {
                out.push(self.digit(i));
            }
        }
        out.push(if upper { 'E' } else { 'e' });
        let exp = if self.digits.is_empty() {
            0
        } else {
            self.dp - 1
        };
        out.push(if exp < 0 { '-' } else { '+' });
        let exp = exp.unsigned_abs();
        if exp < 10 {
            out.push('0');
        }
        out.push_str(&exp.to_string());
    }

    /// `%f` layout with `prec` digits after the point.
    fn fixed_form(&self, out: &mut String, prec: i64) {
        if self.dp > 0 {
            for i in 0..self.dp {
                out.push(self.digit(i));
            }
        } else {
            out.push('0');
        }
        if prec > 0 {
            out.push('.');
            for i in 0..prec {
                out.push(self.digit(self.dp + i));
            }
        }
    }
}

/// Formats `v` as Go does for verb `e`, `E`, `f`, `F`, `g` or `G`
/// (`prec` `None`: 6 for `e`/`f`, shortest for `g`). Only a negative sign
/// is written, and `+Inf` for positive infinity.
pub fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    match verb {
        'e' | 'E' => {
            let prec = prec.unwrap_or(6);
            let dec = Decimal::of(a, Some(prec.saturating_add(1)));
            dec.exp_form(&mut out, to_i64(prec), verb == 'E');
        }
        'f' | 'F' => out.push_str(&format!("{:.*}", prec.unwrap_or(6), a)),
        _ => general(&mut out, a, prec, verb == 'G'),
    }
    out
}

/// Go's `%g`.
fn general(out: &mut String, a: f64, prec: Option<usize>, upper: bool) {
    let (dec, prec, eprec) = match prec {
        None => {
            let dec = Decimal::of(a, None);
            let nd = dec.nd();
            (dec, nd, 6)
        }
        Some(p) => {
            let p = p.max(1);
            let dec = Decimal::of(a, Some(p));
            let p = to_i64(p);
            let eprec = if p > dec.nd() && dec.nd() >= dec.dp {
                dec.nd()
            } else {
                p
            };
            (dec, p, eprec)
        }
    };
    let exp = dec.dp - 1;
    if exp < -4 || exp >= eprec {
        let prec = prec.min(dec.nd());
        dec.exp_form(out, prec - 1, upper);
    } else {
        let prec = if prec > dec.dp { dec.nd() } else { prec };
        dec.fixed_form(out, (prec - dec.dp).max(0));
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let code = c as u32;
                if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
