//! The lexer: splits a template source into text and the tokens of its
//! actions.
//!
//! It owns the delimiter rules: `{{- ` trims the whitespace before the
//! action and ` -}}` the whitespace after it (the marker needs the space,
//! so `{{-3}}` is the number -3), and `{{/* … */}}` is a comment that must
//! close right before the delimiter. Text tokens come out already trimmed.
//!
//! Invariants: every token records its byte range in the source, so the
//! parser can tell adjacent tokens (`$labels.job`) from separate ones
//! (`$labels .job`); an action token never follows an unclosed action.

use super::ast::Number;

/// A lexical or syntax error at a byte offset of the source.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

impl SyntaxError {
    pub fn new(offset: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Text(String),
    Open,
    Close,
    Ident(String),
    /// `$` or `$name`, with the dollar sign.
    Var(String),
    /// `.name`, without the dot.
    Field(String),
    Dot,
    Str(String),
    Num(Number),
    Bool(bool),
    Nil,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into tokens.
pub fn lex(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer {
        src,
        toks: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.toks)
}

struct Lexer<'s> {
    src: &'s str,
    toks: Vec<Token>,
}

impl Lexer<'_> {
    fn push(&mut self, tok: Tok, start: usize, end: usize) {
        self.toks.push(Token { tok, start, end });
    }

    fn run(&mut self) -> Result<(), SyntaxError> {
        let src = self.src;
        let mut i = 0;
        let mut trim_next = false;
        while i < src.len() {
            let open = src[i..].find("{{").map(|o| i + o);
            let text_end = open.unwrap_or(src.len());
            let mut text = &src[i..text_end];
            if trim_next {
                text = text.trim_start_matches(is_space);
            }
            let Some(open) = open else {
                self.push_text(text, text_end);
                break;
            };
            let after = open + 2;
            let rest = &src[after..];
            let left_trim = rest.starts_with('-') && rest[1..].starts_with(is_space);
            if left_trim {
                text = text.trim_end_matches(is_space);
            }
            self.push_text(text, open);
            let body = if left_trim { after + 2 } else { after };
            let (next, trim) = if src[body..].starts_with("/*") {
                self.comment(open, body)?
            } else {
                self.push(Tok::Open, open, after);
                self.action(open, body)?
            };
            i = next;
            trim_next = trim;
        }
        Ok(())
    }

    fn push_text(&mut self, text: &str, end: usize) {
        if !text.is_empty() {
            self.push(Tok::Text(text.to_owned()), end - text.len(), end);
        }
    }

    /// Skips `/* … */` starting at `at`; returns where lexing resumes and
    /// whether the closing delimiter trims.
    fn comment(&self, open: usize, at: usize) -> Result<(usize, bool), SyntaxError> {
        let src = self.src;
        let close = src[at + 2..]
            .find("*/")
            .ok_or_else(|| SyntaxError::new(open, "unclosed comment"))?;
        let k = at + 2 + close + 2;
        let rest = &src[k..];
        if rest.starts_with("}}") {
            return Ok((k + 2, false));
        }
        if rest.starts_with(is_space) && rest[1..].starts_with("-}}") {
            return Ok((k + 4, true));
        }
        Err(SyntaxError::new(
            open,
            "comment ends before closing delimiter",
        ))
    }

    /// Lexes an action's tokens from `at` up to and including `}}`.
    fn action(&mut self, open: usize, at: usize) -> Result<(usize, bool), SyntaxError> {
        let src = self.src;
        let mut j = at;
        loop {
            let rest = &src[j..];
            let Some(c) = rest.chars().next() else {
                return Err(SyntaxError::new(open, "unclosed action"));
            };
            if rest.starts_with("}}") {
                self.push(Tok::Close, j, j + 2);
                return Ok((j + 2, false));
            }
            if is_space(c) {
                if rest[1..].starts_with("-}}") {
                    self.push(Tok::Close, j + 1, j + 4);
                    return Ok((j + 4, true));
                }
                j += 1;
                continue;
            }
            let next = rest[c.len_utf8()..].chars().next();
            let (tok, len) = match c {
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                '|' => (Tok::Pipe, 1),
                ',' => (Tok::Comma, 1),
                '=' => (Tok::Assign, 1),
                ':' if next == Some('=') => (Tok::Declare, 2),
                '"' => quoted(rest).map_err(|m| SyntaxError::new(j, m))?,
                '`' => raw(rest)
                    .ok_or_else(|| SyntaxError::new(j, "unterminated raw quoted string"))?,
                '$' => {
                    let len = 1 + word_len(&rest[1..]);
                    (Tok::Var(rest[..len].to_owned()), len)
                }
                '.' if next.is_some_and(|n| n.is_ascii_digit()) => {
                    number(rest).map_err(|m| SyntaxError::new(j, m))?
                }
                '.' if next.is_some_and(is_word) => {
                    let len = 1 + word_len(&rest[1..]);
                    (Tok::Field(rest[1..len].to_owned()), len)
                }
                '.' => (Tok::Dot, 1),
                '0'..='9' => number(rest).map_err(|m| SyntaxError::new(j, m))?,
                '+' | '-' if next.is_some_and(|n| n.is_ascii_digit() || n == '.') => {
                    number(rest).map_err(|m| SyntaxError::new(j, m))?
                }
                c if is_word(c) => {
                    let len = word_len(rest);
                    let word = &rest[..len];
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        _ => Tok::Ident(word.to_owned()),
                    };
                    (tok, len)
                }
                c => {
                    return Err(SyntaxError::new(j, format!("unexpected {c:?} in action")));
                }
            };
            self.push(tok, j, j + len);
            j += len;
        }
    }
}

fn word_len(s: &str) -> usize {
    s.find(|c: char| !is_word(c)).unwrap_or(s.len())
}

/// A number: optional sign, decimal or `0x` hex integer, or a decimal
/// float with optional fraction and exponent.
fn number(s: &str) -> Result<(Tok, usize), String> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize, hex: bool| {
        while *i < b.len() && (b[*i].is_ascii_digit() || (hex && b[*i].is_ascii_hexdigit())) {
            *i += 1;
        }
    };
    let mut float = false;
    let hex = b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X");
    if hex {
        i += 2;
        digits(&mut i, true);
    } else {
        digits(&mut i, false);
        if b.get(i) == Some(&b'.') {
            float = true;
            i += 1;
            digits(&mut i, false);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            float = true;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            digits(&mut i, false);
        }
    }
    let text = &s[..i];
    if s[i..].starts_with(|c: char| is_word(c) || c == '.') {
        return Err(format!(
            "bad number syntax: {:?}",
            &s[..i + word_len(&s[i..]).max(1)]
        ));
    }
    let bad = || format!("bad number syntax: {text:?}");
    let num = if float {
        Number::Float(text.parse::<f64>().map_err(|_| bad())?)
    } else if hex {
        let (neg, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.trim_start_matches('+')),
        };
        let magnitude = i64::from_str_radix(&body[2..], 16).map_err(|_| bad())?;
        Number::Int(if neg { -magnitude } else { magnitude })
    } else {
        Number::Int(
            text.parse::<i64>()
                .map_err(|_| format!("integer overflow: {text:?}"))?,
        )
    };
    Ok((Tok::Num(num), i))
}

fn raw(s: &str) -> Option<(Tok, usize)> {
    let end = s[1..].find('`')?;
    let body = s[1..1 + end].replace('\r', "");
    Some((Tok::Str(body), end + 2))
}

/// A double-quoted string with Go's escapes.
fn quoted(s: &str) -> Result<(Tok, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Tok::Str(out), i + 1)),
            '\n' => break,
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated quoted string")?;
                let simple = match e {
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\u{b}'),
                    '\\' => Some('\\'),
                    '"' => Some('"'),
                    _ => None,
                };
                if let Some(c) = simple {
                    out.push(c);
                    continue;
                }
                let (len, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    _ => return Err(format!("invalid escape \\{e} in quoted string")),
                };
                let mut code = if radix == 8 {
                    e.to_digit(8).unwrap_or(0)
                } else {
                    0
                };
                for _ in 0..len {
                    let d = chars
                        .next()
                        .and_then(|(_, d)| d.to_digit(radix))
                        .ok_or("invalid escape in quoted string")?;
                    code = code * radix + d;
                }
                let c = char::from_u32(code).ok_or("invalid escape in quoted string")?;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".to_owned())
}
