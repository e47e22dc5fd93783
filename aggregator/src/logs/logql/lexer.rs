//! Splits a LogQL query into tokens, each with its byte position.
//!
//! Identifiers are `[a-zA-Z_][a-zA-Z0-9_]*`; keywords (`by`, `json`, `or`,
//! ...) are identifiers the parser recognises in context, so a label may be
//! called `json`. A token starting with a digit is a number (`1`, `0.5`,
//! `1e3`), a duration (`5m`, `1h30m`) or a byte size (`10KB`). Strings are
//! double-quoted with Go escapes or back-quoted raw. `#` starts a comment
//! running to the end of the line, as in Loki.

use crate::error::{AggregatorError, Result};

use super::units;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Ident(String),
    Str(String),
    Number(f64),
    /// In nanoseconds.
    Duration(f64),
    Bytes(f64),
    /// `--strict`, `--keep-empty`: parser flags.
    Flag(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
    Gt,
    Ge,
    Lt,
    Le,
    /// `|`
    Pipe,
    /// `|=`
    PipeEq,
    /// `|~`
    PipeRe,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eof,
}

impl TokenKind {
    /// How error messages name this token.
    pub(crate) fn describe(&self) -> String {
        let punct = match self {
            TokenKind::Ident(name) => return format!("identifier {name:?}"),
            TokenKind::Str(value) => return format!("string {value:?}"),
            TokenKind::Number(_) => return "number".to_owned(),
            TokenKind::Duration(_) => return "duration".to_owned(),
            TokenKind::Bytes(_) => return "byte size".to_owned(),
            TokenKind::Flag(flag) => return format!("flag \"--{flag}\""),
            TokenKind::Eof => return "end of query".to_owned(),
            TokenKind::LBrace => "{",
            TokenKind::RBrace => "}",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::LBracket => "[",
            TokenKind::RBracket => "]",
            TokenKind::Comma => ",",
            TokenKind::Eq => "=",
            TokenKind::EqEq => "==",
            TokenKind::Neq => "!=",
            TokenKind::Re => "=~",
            TokenKind::Nre => "!~",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Pipe => "|",
            TokenKind::PipeEq => "|=",
            TokenKind::PipeRe => "|~",
            TokenKind::Add => "+",
            TokenKind::Sub => "-",
            TokenKind::Mul => "*",
            TokenKind::Div => "/",
            TokenKind::Mod => "%",
            TokenKind::Pow => "^",
        };
        format!("{punct:?}")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte offset of the token's first character.
    pub pos: usize,
}

fn error(position: usize, message: impl Into<String>) -> AggregatorError {
    AggregatorError::Parse {
        position,
        message: message.into(),
    }
}

/// Tokenizes a whole query; the last token is always [`TokenKind::Eof`].
pub(crate) fn tokenize(query: &str) -> Result<Vec<Token>> {
    let bytes = query.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let two = |a: u8, b: u8| c == a && bytes.get(i + 1) == Some(&b);
        let (kind, len) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                i = query[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'"' | b'`' => {
                let (value, len) = string(query, i)?;
                (TokenKind::Str(value), len)
            }
            b'0'..=b'9' => number(query, i)?,
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => number(query, i)?,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let len = ident_len(&query[i..]);
                (TokenKind::Ident(query[i..i + len].to_owned()), len)
            }
            _ if two(b'-', b'-') && bytes.get(i + 2).is_some_and(u8::is_ascii_alphabetic) => {
                let name_len = query[i + 2..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .unwrap_or(query.len() - i - 2);
                let flag = query[i + 2..i + 2 + name_len].to_owned();
                (TokenKind::Flag(flag), 2 + name_len)
            }
            _ if two(b'=', b'~') => (TokenKind::Re, 2),
            _ if two(b'=', b'=') => (TokenKind::EqEq, 2),
            _ if two(b'!', b'=') => (TokenKind::Neq, 2),
            _ if two(b'!', b'~') => (TokenKind::Nre, 2),
            _ if two(b'|', b'=') => (TokenKind::PipeEq, 2),
            _ if two(b'|', b'~') => (TokenKind::PipeRe, 2),
            _ if two(b'>', b'=') => (TokenKind::Ge, 2),
            _ if two(b'<', b'=') => (TokenKind::Le, 2),
            b'=' => (TokenKind::Eq, 1),
            b'>' => (TokenKind::Gt, 1),
            b'<' => (TokenKind::Lt, 1),
            b'|' => (TokenKind::Pipe, 1),
            b'{' => (TokenKind::LBrace, 1),
            b'}' => (TokenKind::RBrace, 1),
            b'(' => (TokenKind::LParen, 1),
            b')' => (TokenKind::RParen, 1),
            b'[' => (TokenKind::LBracket, 1),
            b']' => (TokenKind::RBracket, 1),
            b',' => (TokenKind::Comma, 1),
            b'+' => (TokenKind::Add, 1),
            b'-' => (TokenKind::Sub, 1),
            b'*' => (TokenKind::Mul, 1),
            b'/' => (TokenKind::Div, 1),
            b'%' => (TokenKind::Mod, 1),
            b'^' => (TokenKind::Pow, 1),
            _ => {
                let ch = query[i..].chars().next().unwrap_or('?');
                return Err(error(i, format!("unexpected character {ch:?}")));
            }
        };
        tokens.push(Token { kind, pos: start });
        i += len;
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        pos: query.len(),
    });
    Ok(tokens)
}

fn ident_len(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len())
}

/// A number, duration or byte size starting at `start`.
fn number(query: &str, start: usize) -> Result<(TokenKind, usize)> {
    let bytes = query.as_bytes();
    let mut end = start;
    while end < bytes.len() {
        let c = bytes[end];
        let exponent_sign = (c == b'+' || c == b'-')
            && matches!(bytes[end - 1], b'e' | b'E')
            && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
            && query[start..end - 1]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.');
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign {
            end += 1;
        } else if query[end..].starts_with('µ') || query[end..].starts_with('μ') {
            end += 2;
        } else {
            break;
        }
    }
    let text = &query[start..end];
    let kind = if let Ok(value) = text.parse::<f64>() {
        TokenKind::Number(value)
    } else if let Some(nanos) = units::parse_duration_nanos(text) {
        TokenKind::Duration(nanos)
    } else if units::is_bytes_literal(text) {
        TokenKind::Bytes(units::parse_bytes(text).unwrap_or_default())
    } else {
        return Err(error(
            start,
            format!("invalid number, duration or byte size {text:?}"),
        ));
    };
    Ok((kind, end - start))
}

/// A quoted string starting at `start`: its value and its length in bytes.
fn string(query: &str, start: usize) -> Result<(String, usize)> {
    let quote = query.as_bytes()[start];
    let body = &query[start + 1..];
    if quote == b'`' {
        let end = body
            .find('`')
            .ok_or_else(|| error(start, "unterminated string"))?;
        return Ok((body[..end].to_owned(), end + 2));
    }
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => return Ok((value, offset + 2)),
            '\\' => {
                let escape_pos = start + 1 + offset;
                let (_, e) = chars
                    .next()
                    .ok_or_else(|| error(start, "unterminated string"))?;
                let simple = match e {
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'v' => Some('\x0b'),
                    '\\' | '"' | '\'' => Some(e),
                    _ => None,
                };
                if let Some(s) = simple {
                    value.push(s);
                    continue;
                }
                let (digits, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    _ => return Err(error(escape_pos, format!("unknown escape sequence \\{e}"))),
                };
                let mut code = if radix == 8 { e.to_digit(8) } else { Some(0) };
                for _ in 0..digits {
                    let digit = chars.next().and_then(|(_, d)| d.to_digit(radix));
                    code = code.zip(digit).map(|(c, d)| c * radix + d);
                }
                let ch = code
                    .and_then(char::from_u32)
                    .ok_or_else(|| error(escape_pos, "invalid escape sequence"))?;
                value.push(ch);
            }
            _ => value.push(c),
        }
    }
    Err(error(start, "unterminated string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(query: &str) -> Vec<TokenKind> {
        tokenize(query)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn operators_strings_and_units_tokenize() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"{a=~"x\t\"y\""} |= `r\d` != "q" | n >= 1.5e3 [5m]"#),
            vec![
                LBrace,
                Ident("a".into()),
                Re,
                Str("x\t\"y\"".into()),
                RBrace,
                PipeEq,
                Str(r"r\d".into()),
                Neq,
                Str("q".into()),
                Pipe,
                Ident("n".into()),
                Ge,
                Number(1500.0),
                LBracket,
                Duration(300e9),
                RBracket,
                Eof
            ]
        );
        assert_eq!(
            kinds("10KB 1h30m # comment"),
            vec![Bytes(10_000.0), Duration(5400e9), Eof]
        );
        assert_eq!(kinds(r#""\u00e9\x41""#), vec![Str("éA".into()), Eof]);
    }

    #[test]
    fn bad_tokens_report_their_position() {
        let err = tokenize(r#"{a="b"} |= "open"#).unwrap_err();
        assert!(
            matches!(err, AggregatorError::Parse { position: 11, .. }),
            "{err}"
        );
        let err = tokenize("{a=\"b\"} @").unwrap_err();
        assert!(
            matches!(err, AggregatorError::Parse { position: 8, .. }),
            "{err}"
        );
        let err = tokenize("rate(x[5parsecs])").unwrap_err();
        assert!(
            matches!(err, AggregatorError::Parse { position: 7, .. }),
            "{err}"
        );
        let err = tokenize(r#""\q""#).unwrap_err();
        assert!(
            matches!(err, AggregatorError::Parse { position: 1, .. }),
            "{err}"
        );
    }
}
