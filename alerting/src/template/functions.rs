//! The function table: Go's built-ins and Prometheus' functions for rule
//! templates, and their argument checks.
//!
//! Prometheus' query functions (`query`, `first`, `label`, …) are known by
//! name so the parser can say they are not supported rather than unknown:
//! Weir renders templates without a query engine at hand.
//!
//! Invariants: a call never panics on its arguments; a wrong count or
//! type is an error naming the function, as Go's are.

use regex::{Regex, RegexBuilder};

use super::humanize::{self, to_float};
use super::printf::{sprint, sprintf, sprintln};
use super::value::Value;
use super::{TemplateData, strings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    And,
    Or,
    Not,
    Len,
    Index,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Print,
    Printf,
    Println,
    Urlquery,
    Humanize,
    Humanize1024,
    HumanizeDuration,
    HumanizePercentage,
    HumanizeTimestamp,
    ToUpper,
    ToLower,
    Title,
    ReReplaceAll,
    Match,
    StripPort,
    StripDomain,
    SafeHtml,
    ExternalUrl,
    PathPrefix,
}

const TABLE: [(&str, Func); 30] = [
    ("and", Func::And),
    ("or", Func::Or),
    ("not", Func::Not),
    ("len", Func::Len),
    ("index", Func::Index),
    ("eq", Func::Eq),
    ("ne", Func::Ne),
    ("lt", Func::Lt),
    ("le", Func::Le),
    ("gt", Func::Gt),
    ("ge", Func::Ge),
    ("print", Func::Print),
    ("printf", Func::Printf),
    ("println", Func::Println),
    ("urlquery", Func::Urlquery),
    ("humanize", Func::Humanize),
    ("humanize1024", Func::Humanize1024),
    ("humanizeDuration", Func::HumanizeDuration),
    ("humanizePercentage", Func::HumanizePercentage),
    ("humanizeTimestamp", Func::HumanizeTimestamp),
    ("toUpper", Func::ToUpper),
    ("toLower", Func::ToLower),
    ("title", Func::Title),
    ("reReplaceAll", Func::ReReplaceAll),
    ("match", Func::Match),
    ("stripPort", Func::StripPort),
    ("stripDomain", Func::StripDomain),
    ("safeHtml", Func::SafeHtml),
    ("externalURL", Func::ExternalUrl),
    ("pathPrefix", Func::PathPrefix),
];

/// Prometheus functions that need a query engine or named templates.
const UNSUPPORTED: [&str; 10] = [
    "query",
    "first",
    "label",
    "value",
    "sortByLabel",
    "strvalue",
    "args",
    "tmpl",
    "graphLink",
    "tableLink",
];

/// Compiled regexes are capped well above any rule's pattern.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub enum Lookup {
    Known(Func),
    Unsupported,
    Unknown,
}

impl Func {
    pub fn lookup(name: &str) -> Lookup {
        if let Some((_, f)) = TABLE.iter().find(|(n, _)| *n == name) {
            Lookup::Known(*f)
        } else if UNSUPPORTED.contains(&name) {
            Lookup::Unsupported
        } else {
            Lookup::Unknown
        }
    }

    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

fn arity(f: Func, args: &[Value<'_>], want: usize) -> Result<(), String> {
    if args.len() == want {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {}: want {want} got {}",
            f.name(),
            args.len()
        ))
    }
}

fn string_arg<'v>(v: &'v Value<'_>) -> Result<&'v str, String> {
    v.as_str().ok_or_else(|| {
        format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        )
    })
}

fn regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// Calls `f`. `and` and `or` are evaluated lazily by the caller; here
/// they get all their arguments already evaluated.
pub fn call<'a>(
    f: Func,
    mut args: Vec<Value<'a>>,
    data: &TemplateData<'_>,
) -> Result<Value<'a>, String> {
    let one = |args: &[Value<'a>]| arity(f, args, 1);
    let text = |s: String| Ok(Value::Str(s));
    match f {
        Func::And | Func::Or => {
            if args.is_empty() {
                return Err(format!(
                    "wrong number of args for {}: want at least 1 got 0",
                    f.name()
                ));
            }
            let want = f == Func::Or;
            let idx = args
                .iter()
                .position(|a| a.truthy() == want)
                .unwrap_or(args.len() - 1);
            Ok(args.swap_remove(idx))
        }
        Func::Not => {
            one(&args)?;
            Ok(Value::Bool(!args[0].truthy()))
        }
        Func::Len => {
            one(&args)?;
            let n = match &args[0] {
                Value::Str(s) => s.len(),
                Value::Map(m) => m.len(),
                other => return Err(format!("len of type {}", other.type_name())),
            };
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        Func::Index => index(args),
        Func::Eq | Func::Ne => {
            if args.len() < 2 {
                return Err("missing argument for comparison".to_owned());
            }
            let mut equal = false;
            for other in &args[1..] {
                equal |= strings::compare(&args[0], other)? == Some(std::cmp::Ordering::Equal);
            }
            Ok(Value::Bool(equal == (f == Func::Eq)))
        }
        Func::Lt | Func::Le | Func::Gt | Func::Ge => {
            arity(f, &args, 2)?;
            let (a, b) = (&args[0], &args[1]);
            if matches!(a, Value::Bool(_)) || matches!(b, Value::Bool(_)) {
                return Err("invalid type for comparison".to_owned());
            }
            let ord = strings::compare(a, b)?;
            let lt = ord == Some(std::cmp::Ordering::Less);
            let le = lt || ord == Some(std::cmp::Ordering::Equal);
            // Go derives gt and ge by negation, so NaN compares greater.
            Ok(Value::Bool(match f {
                Func::Lt => lt,
                Func::Le => le,
                Func::Gt => !le,
                _ => !lt,
            }))
        }
        Func::Print => text(sprint(&args)),
        Func::Println => text(sprintln(&args)),
        Func::Printf => {
            let Some(format) = args.first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".to_owned());
            };
            text(sprintf(string_arg(format)?, &args[1..])?)
        }
        Func::Urlquery => text(strings::query_escape(&sprint(&args))),
        Func::Humanize => {
            one(&args)?;
            text(humanize::humanize(to_float(&args[0])?))
        }
        Func::Humanize1024 => {
            one(&args)?;
            text(humanize::humanize1024(to_float(&args[0])?))
        }
        Func::HumanizeDuration => {
            one(&args)?;
            text(humanize::humanize_duration(to_float(&args[0])?))
        }
        Func::HumanizePercentage => {
            one(&args)?;
            text(humanize::humanize_percentage(to_float(&args[0])?))
        }
        Func::HumanizeTimestamp => {
            one(&args)?;
            text(humanize::humanize_timestamp(to_float(&args[0])?)?)
        }
        Func::ToUpper => {
            one(&args)?;
            text(string_arg(&args[0])?.to_uppercase())
        }
        Func::ToLower => {
            one(&args)?;
            text(string_arg(&args[0])?.to_lowercase())
        }
        Func::Title => {
            one(&args)?;
            text(strings::title(string_arg(&args[0])?))
        }
        Func::SafeHtml => {
            one(&args)?;
            text(string_arg(&args[0])?.to_owned())
        }
        Func::StripPort => {
            one(&args)?;
            text(strings::strip_port(string_arg(&args[0])?))
        }
        Func::StripDomain => {
            one(&args)?;
            text(strings::strip_domain(string_arg(&args[0])?))
        }
        Func::ReReplaceAll => {
            arity(f, &args, 3)?;
            let re = regex(string_arg(&args[0])?)?;
            let (repl, input) = (string_arg(&args[1])?, string_arg(&args[2])?);
            text(re.replace_all(input, repl).into_owned())
        }
        Func::Match => {
            arity(f, &args, 2)?;
            let re = regex(string_arg(&args[0])?)?;
            Ok(Value::Bool(re.is_match(string_arg(&args[1])?)))
        }
        Func::ExternalUrl => {
            arity(f, &args, 0)?;
            text(data.external_url.to_owned())
        }
        Func::PathPrefix => {
            arity(f, &args, 0)?;
            text(strings::url_path(data.external_url).to_owned())
        }
    }
}

/// Go's `index` on label maps: a missing key gives `""`.
fn index(args: Vec<Value<'_>>) -> Result<Value<'_>, String> {
    let mut iter = args.into_iter();
    let mut item = iter
        .next()
        .ok_or("wrong number of args for index: want at least 1 got 0")?;
    for key in iter {
        item = match (&item, &key) {
            (Value::Map(m), Value::Str(k)) => Value::Str(m.get(k).cloned().unwrap_or_default()),
            (Value::Map(_), k) => {
                return Err(format!(
                    "value has type {}; should be string",
                    k.type_name()
                ));
            }
            (Value::Nil, _) => return Err("index of untyped nil".to_owned()),
            (other, _) => {
                return Err(format!("can't index item of type {}", other.type_name()));
            }
        };
    }
    Ok(item)
}
