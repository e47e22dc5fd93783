//! `printf`, `print` and `println` with Go's `fmt` semantics.
//!
//! Supported verbs: `%v %s %q %d %x %X %o %b %c %t %e %E %f %F %g %G %%`,
//! flags `- + 0 space`, width and precision. Mismatches print as Go does:
//! `%!d(float64=1.5)` for a wrong type, `%!d(MISSING)` for a missing
//! argument, `%!(EXTRA int=1)` for surplus ones.
//!
//! Invariant: widths and precisions are bounded by
//! [`MAX_OUTPUT`](super::MAX_OUTPUT), so a format cannot allocate more than
//! a template may print.

use super::MAX_OUTPUT;
use super::format::{format_float, go_quote};
use super::value::{Value, go_v};

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(args: &[Value<'_>]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_str = |v: &Value<'_>| matches!(v, Value::Str(_));
        if i > 0 && !is_str(arg) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&go_v(arg));
    }
    out
}

/// Go's `fmt.Sprintln`: spaces between all operands and a final newline.
pub fn sprintln(args: &[Value<'_>]) -> String {
    let parts: Vec<String> = args.iter().map(go_v).collect();
    format!("{}\n", parts.join(" "))
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value<'_>]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = number(&mut chars)?;
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars)?.unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            Some(arg) => out.push_str(&format_arg(arg, verb, &spec)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next_arg += 1;
        if out.len() > MAX_OUTPUT {
            return Err(format!("printf output exceeds {MAX_OUTPUT} bytes"));
        }
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), go_v(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(out)
}

fn number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Option<usize>, String> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        let v = n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize);
        if v > MAX_OUTPUT {
            return Err(format!("printf width or precision exceeds {MAX_OUTPUT}"));
        }
        n = Some(v);
    }
    Ok(n)
}

fn bad_verb(arg: &Value<'_>, verb: char) -> String {
    match arg {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", arg.type_name(), go_v(arg)),
    }
}

fn format_arg(arg: &Value<'_>, verb: char, spec: &Spec) -> String {
    match arg {
        Value::Float(f) => match verb {
            'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
                let verb = if verb == 'v' { 'g' } else { verb };
                let body = format_float(*f, verb, spec.prec);
                pad_number(body, spec, f.is_finite())
            }
            _ => bad_verb(arg, verb),
        },
        Value::Int(i) => {
            let digits = match verb {
                'd' | 'v' => i.unsigned_abs().to_string(),
                'x' => format!("{:x}", i.unsigned_abs()),
                'X' => format!("{:X}", i.unsigned_abs()),
                'o' => format!("{:o}", i.unsigned_abs()),
                'b' => format!("{:b}", i.unsigned_abs()),
                'c' | 'q' => {
                    let c = u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}');
                    let s = if verb == 'c' {
                        c.to_string()
                    } else {
                        format!("'{}'", go_quote(&c.to_string()).trim_matches('"'))
                    };
                    return pad(s, spec, false);
                }
                _ => return bad_verb(arg, verb),
            };
            let digits = match spec.prec {
                Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
                _ => digits,
            };
            let body = if *i < 0 { format!("-{digits}") } else { digits };
            pad_number(body, spec, spec.prec.is_none())
        }
        Value::Str(s) => {
            let s = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            let body = match verb {
                's' | 'v' => s,
                'q' => go_quote(&s),
                'x' => s.bytes().map(|b| format!("{b:02x}")).collect(),
                'X' => s.bytes().map(|b| format!("{b:02X}")).collect(),
                _ => return bad_verb(arg, verb),
            };
            pad(body, spec, spec.zero)
        }
        Value::Bool(b) => match verb {
            't' | 'v' => pad(b.to_string(), spec, false),
            _ => bad_verb(arg, verb),
        },
        Value::Nil if verb != 'v' => bad_verb(arg, verb),
        _ => pad(go_v(arg), spec, false),
    }
}

/// Adds the `+`/space sign flags and pads; zeros go after the sign.
fn pad_number(body: String, spec: &Spec, zero_ok: bool) -> String {
    let negative = body.starts_with('-');
    let (sign, digits) = if negative || body.starts_with('+') {
        body.split_at(1)
    } else {
        ("", body.as_str())
    };
    let sign = match sign {
        "" if spec.plus => "+",
        "" if spec.space => " ",
        "+" if !spec.plus && spec.space => " ",
        s => s,
    };
    let width = spec.width.unwrap_or(0);
    let len = sign.chars().count() + digits.chars().count();
    if spec.zero && zero_ok && !spec.minus && len < width {
        return format!("{sign}{}{digits}", "0".repeat(width - len));
    }
    pad(format!("{sign}{digits}"), spec, false)
}

fn pad(body: String, spec: &Spec, zeros: bool) -> String {
    let width = spec.width.unwrap_or(0);
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = if zeros && !spec.minus { "0" } else { " " }.repeat(width - len);
    if spec.minus {
        format!("{body}{fill}")
    } else {
        format!("{fill}{body}")
    }
}
