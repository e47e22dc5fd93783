//! The `| logfmt` stage: `key=value key2="quoted value" flag` pairs become
//! labels (keys sanitised to `[a-zA-Z0-9_]`; a bare key has an empty value,
//! so sets nothing).
//!
//! As in Loki 3, the default mode skips a malformed pair and carries on;
//! with `--strict` the first malformed pair stops the scan and sets
//! `__error__="LogfmtParserErr"` with the reason in `__error_details__`
//! (pairs before it stay extracted). Malformed means: a `=` with no key,
//! a quote inside a key or an unquoted value, or an unterminated quote.

use crate::labels::label_name;

use super::ast::{Extraction, PathPart};
use super::entry_labels::EntryLabels;

const LOGFMT_ERROR: &str = "LogfmtParserErr";

/// Extracts every pair, or with `extractions` only the named keys.
pub(crate) fn extract(
    line: &str,
    strict: bool,
    extractions: &[Extraction],
    labels: &mut EntryLabels,
) {
    let mut scanner = Scanner { line, at: 0 };
    while let Some(pair) = scanner.next_pair() {
        match pair {
            Ok((key, value)) => {
                if extractions.is_empty() {
                    labels.extract(label_name(&key), value);
                    continue;
                }
                for extraction in extractions {
                    if matches!(extraction.path.as_slice(), [PathPart::Key(k)] if *k == key) {
                        labels.extract(extraction.label.clone(), value.clone());
                    }
                }
            }
            Err(reason) if strict => {
                labels.set_error(LOGFMT_ERROR, reason);
                return;
            }
            Err(_) => scanner.skip_token(),
        }
    }
}

struct Scanner<'a> {
    line: &'a str,
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.line[self.at..].chars().next()
    }

    fn skip_token(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                break;
            }
            self.at += c.len_utf8();
        }
    }

    /// The next `key[=value]`, `None` at the end, `Err` when malformed.
    fn next_pair(&mut self) -> Option<Result<(String, String), String>> {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.at += c.len_utf8();
        }
        let start = self.at;
        while let Some(c) = self.peek() {
            match c {
                '=' if self.at == start => {
                    return Some(Err(format!(
                        "logfmt syntax error at pos {}: unexpected '='",
                        self.at
                    )));
                }
                '"' => {
                    return Some(Err(format!(
                        "logfmt syntax error at pos {}: unexpected '\"'",
                        self.at
                    )));
                }
                '=' => break,
                c if c.is_whitespace() => break,
                c => self.at += c.len_utf8(),
            }
        }
        if self.at == start {
            return None;
        }
        let key = self.line[start..self.at].to_owned();
        if self.peek() != Some('=') {
            return Some(Ok((key, String::new())));
        }
        self.at += 1;
        let value = if self.peek() == Some('"') {
            match self.quoted() {
                Ok(value) => value,
                Err(e) => return Some(Err(e)),
            }
        } else {
            let value_start = self.at;
            while let Some(c) = self.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '"' {
                    return Some(Err(format!(
                        "logfmt syntax error at pos {}: unexpected '\"'",
                        self.at
                    )));
                }
                self.at += c.len_utf8();
            }
            self.line[value_start..self.at].to_owned()
        };
        Some(Ok((key, value)))
    }

    /// A quoted value with Go escapes, the scanner on its opening quote.
    fn quoted(&mut self) -> Result<String, String> {
        let open = self.at;
        self.at += 1;
        let mut value = String::new();
        let mut chars = self.line[self.at..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += offset + 1;
                    return Ok(value);
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some('u') => {
                        let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                        let decoded = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        value.push(decoded.unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    Some(other) => value.push(other),
                    None => break,
                },
                c => value.push(c),
            }
        }
        self.at = self.line.len();
        Err(format!(
            "logfmt syntax error at pos {open}: unterminated quoted value"
        ))
    }
}
