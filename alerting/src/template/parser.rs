//! The parser: turns the lexer's tokens into the [`ast`](super::ast) tree.
//!
//! It checks at parse time what Go's parser checks (declared variables,
//! known functions, `end` for every block, `else` placement) and, earlier
//! than Go, what would only fail at execution: arguments given to a
//! non-function and literals as later pipeline stages. Prometheus' query
//! functions are rejected here, at their position.
//!
//! Invariants: block and parenthesis nesting never exceeds
//! [`MAX_DEPTH`], so neither parsing nor evaluation recurses unboundedly;
//! an `else if` chain is one node, not nested ones.

use super::MAX_DEPTH;
use super::ast::{Branch, Command, Node, Pipeline, Pos, Term};
use super::functions::{Func, Lookup};
use super::lexer::{SyntaxError, Tok, Token};

/// Variables every rule template starts with (Prometheus' prelude).
const PRELUDE: [&str; 5] = ["$", "$labels", "$externalLabels", "$externalURL", "$value"];

pub fn parse(src: &str, toks: Vec<Token>) -> Result<Vec<Node>, SyntaxError> {
    let mut parser = Parser {
        lines: LineIndex::new(src),
        end: src.len(),
        toks,
        i: 0,
        vars: PRELUDE.iter().map(|v| (*v).to_owned()).collect(),
        depth: 0,
    };
    let (nodes, stop) = parser.list()?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::End(at) => Err(SyntaxError::new(at, "unexpected {{end}}")),
        Stop::Else(at) => Err(SyntaxError::new(at, "unexpected {{else}}")),
    }
}

/// Byte offsets to line and column.
pub struct LineIndex<'s> {
    src: &'s str,
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub fn new(src: &'s str) -> LineIndex<'s> {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src, starts }
    }

    pub fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = self.src.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
        }
    }
}

enum Stop {
    Eof,
    End(usize),
    Else(usize),
}

struct Parser<'s> {
    lines: LineIndex<'s>,
    end: usize,
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |t| t.start)
    }

    fn next(&mut self) -> Option<Token> {
        let tok = self.toks.get(self.i).cloned();
        self.i += 1;
        tok
    }

    fn expect_close(&mut self, what: &str) -> Result<(), SyntaxError> {
        match self.next() {
            Some(Token {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(t) => Err(SyntaxError::new(
                t.start,
                format!("unexpected {} in {what}", describe(&t.tok)),
            )),
            None => Err(SyntaxError::new(self.end, "unclosed action")),
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                at,
                format!("template nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), SyntaxError> {
        let mut nodes = Vec::new();
        while let Some(tok) = self.next() {
            let open = tok.start;
            match tok.tok {
                Tok::Text(text) => nodes.push(Node::Text(text)),
                Tok::Open => match self.peek() {
                    Some(Tok::Ident(word)) => match word.as_str() {
                        "if" | "with" => {
                            let with = word == "with";
                            self.i += 1;
                            nodes.push(self.cond(with, open)?);
                        }
                        "range" => {
                            self.i += 1;
                            nodes.push(self.range(open)?);
                        }
                        "end" => {
                            self.i += 1;
                            self.expect_close("{{end}}")?;
                            return Ok((nodes, Stop::End(open)));
                        }
                        "else" => {
                            self.i += 1;
                            return Ok((nodes, Stop::Else(open)));
                        }
                        "define" | "template" | "block" | "break" | "continue" => {
                            return Err(SyntaxError::new(
                                self.offset(),
                                format!("{{{{{word}}}}} is not supported in Weir's rule templates"),
                            ));
                        }
                        _ => nodes.push(self.action()?),
                    },
                    _ => nodes.push(self.action()?),
                },
                other => {
                    return Err(SyntaxError::new(
                        open,
                        format!("unexpected {}", describe(&other)),
                    ));
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn action(&mut self) -> Result<Node, SyntaxError> {
        let pipe = self.pipeline("command", 1)?;
        self.expect_close("command")?;
        Ok(Node::Action(pipe))
    }

    /// `if`/`with` after its keyword, through the `{{end}}` of its chain.
    fn cond(&mut self, mut with: bool, open: usize) -> Result<Node, SyntaxError> {
        self.enter(open)?;
        let mark = self.vars.len();
        let mut branches = Vec::new();
        let mut keyword_at = open;
        let otherwise = loop {
            let kind = if with { "with" } else { "if" };
            let pipe = self.pipeline(kind, 1)?;
            self.expect_close(kind)?;
            let inner = self.vars.len();
            let (body, stop) = self.list()?;
            self.vars.truncate(inner);
            branches.push(Branch { with, pipe, body });
            match stop {
                Stop::End(_) => break Vec::new(),
                Stop::Eof => return Err(unclosed(kind, keyword_at)),
                Stop::Else(at) => match self.peek() {
                    Some(Tok::Ident(w)) if w == "if" || w == "with" => {
                        with = w == "with";
                        keyword_at = at;
                        self.i += 1;
                    }
                    _ => {
                        self.expect_close("{{else}}")?;
                        break self.else_list(kind, at)?;
                    }
                },
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Node::Cond {
            branches,
            otherwise,
        })
    }

    fn else_list(&mut self, kind: &str, at: usize) -> Result<Vec<Node>, SyntaxError> {
        let mark = self.vars.len();
        let (nodes, stop) = self.list()?;
        self.vars.truncate(mark);
        match stop {
            Stop::End(_) => Ok(nodes),
            Stop::Eof => Err(unclosed(kind, at)),
            Stop::Else(again) => Err(SyntaxError::new(
                again,
                format!("expected {{{{end}}}} after {{{{else}}}} of {kind}; found {{{{else}}}}"),
            )),
        }
    }

    fn range(&mut self, open: usize) -> Result<Node, SyntaxError> {
        self.enter(open)?;
        let mark = self.vars.len();
        let pipe = self.pipeline("range", 2)?;
        self.expect_close("range")?;
        let inner = self.vars.len();
        let (body, stop) = self.list()?;
        self.vars.truncate(inner);
        let otherwise = match stop {
            Stop::End(_) => Vec::new(),
            Stop::Eof => return Err(unclosed("range", open)),
            Stop::Else(at) => {
                self.expect_close("{{else}}")?;
                self.else_list("range", at)?
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Node::Range {
            pipe,
            body,
            otherwise,
        })
    }

    /// A pipeline with an optional declaration of up to `max_vars`.
    fn pipeline(&mut self, ctx: &str, max_vars: usize) -> Result<Pipeline, SyntaxError> {
        let start = self.offset();
        let mut vars = Vec::new();
        let mut assign = false;
        let declares = matches!(self.peek(), Some(Tok::Var(_)))
            && matches!(
                self.toks.get(self.i + 1).map(|t| &t.tok),
                Some(Tok::Declare | Tok::Assign | Tok::Comma)
            );
        if declares && max_vars == 0 {
            return Err(SyntaxError::new(
                start,
                format!("no declarations allowed in {ctx}"),
            ));
        }
        if declares {
            loop {
                let Some(Token {
                    tok: Tok::Var(name),
                    start,
                    ..
                }) = self.next()
                else {
                    return Err(SyntaxError::new(
                        start,
                        "expected a variable in declaration",
                    ));
                };
                vars.push((name, start));
                match self.next().map(|t| t.tok) {
                    Some(Tok::Declare) => break,
                    Some(Tok::Assign) => {
                        assign = true;
                        break;
                    }
                    Some(Tok::Comma) if vars.len() < max_vars => continue,
                    _ => {
                        return Err(SyntaxError::new(
                            start,
                            format!("too many declarations in {ctx}"),
                        ));
                    }
                }
            }
        }
        if assign {
            for (name, at) in &vars {
                self.check_var(name, *at)?;
            }
        }
        let mut cmds = Vec::new();
        loop {
            cmds.push(self.command(cmds.len(), ctx)?);
            if self.peek() == Some(&Tok::Pipe) {
                self.i += 1;
            } else {
                break;
            }
        }
        if cmds.is_empty() {
            return Err(SyntaxError::new(start, format!("missing value for {ctx}")));
        }
        let vars: Vec<String> = vars.into_iter().map(|(name, _)| name).collect();
        if !assign {
            self.vars.extend(vars.iter().cloned());
        }
        Ok(Pipeline { vars, assign, cmds })
    }

    fn command(&mut self, stage: usize, ctx: &str) -> Result<Command, SyntaxError> {
        let start = self.offset();
        let mut terms = Vec::new();
        while !matches!(
            self.peek(),
            None | Some(Tok::Close | Tok::RParen | Tok::Pipe)
        ) {
            terms.push(self.operand()?);
        }
        if terms.is_empty() {
            return Err(SyntaxError::new(start, format!("missing value for {ctx}")));
        }
        let head = terms.remove(0);
        match head {
            Term::Func(_) => {}
            Term::Nil => return Err(SyntaxError::new(start, "nil is not a command")),
            _ if !terms.is_empty() => {
                return Err(SyntaxError::new(
                    start,
                    "can't give argument to non-function",
                ));
            }
            _ if stage > 0 => {
                return Err(SyntaxError::new(
                    start,
                    format!("non executable command in pipeline stage {}", stage + 1),
                ));
            }
            _ => {}
        }
        Ok(Command {
            head,
            args: terms,
            pos: self.lines.pos(start),
        })
    }

    fn operand(&mut self) -> Result<Term, SyntaxError> {
        let Some(tok) = self.next() else {
            return Err(SyntaxError::new(self.end, "unclosed action"));
        };
        let mut end = tok.end;
        let mut term = match tok.tok {
            Tok::Ident(name) => match Func::lookup(&name) {
                Lookup::Known(f) => Term::Func(f),
                Lookup::Unsupported => {
                    return Err(SyntaxError::new(
                        tok.start,
                        format!(
                            "the template function {name} is not supported in Weir's rule templates"
                        ),
                    ));
                }
                Lookup::Unknown => {
                    return Err(SyntaxError::new(
                        tok.start,
                        format!("function {name:?} not defined"),
                    ));
                }
            },
            Tok::Dot => Term::Dot,
            Tok::Field(name) => Term::Field(vec![name]),
            Tok::Var(name) => {
                self.check_var(&name, tok.start)?;
                Term::Var(name, Vec::new())
            }
            Tok::LParen => {
                self.enter(tok.start)?;
                let pipe = self.pipeline("parenthesized pipeline", 0)?;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen,
                        end: close,
                        ..
                    }) => end = close,
                    _ => return Err(SyntaxError::new(tok.start, "unclosed left paren")),
                }
                self.depth -= 1;
                Term::Sub(Box::new(pipe), Vec::new())
            }
            Tok::Str(s) => Term::Str(s),
            Tok::Num(n) => Term::Num(n),
            Tok::Bool(b) => Term::Bool(b),
            Tok::Nil => Term::Nil,
            other => {
                return Err(SyntaxError::new(
                    tok.start,
                    format!("unexpected {} in operand", describe(&other)),
                ));
            }
        };
        while let Some(Token {
            tok: Tok::Field(name),
            start,
            end: field_end,
        }) = self.toks.get(self.i).cloned()
        {
            if start != end {
                break;
            }
            match &mut term {
                Term::Field(chain) | Term::Var(_, chain) | Term::Sub(_, chain) => chain.push(name),
                _ => return Err(SyntaxError::new(start, "unexpected . after term")),
            }
            self.i += 1;
            end = field_end;
        }
        Ok(term)
    }

    fn check_var(&self, name: &str, at: usize) -> Result<(), SyntaxError> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            Err(SyntaxError::new(at, format!("undefined variable {name:?}")))
        }
    }
}

fn unclosed(kind: &str, at: usize) -> SyntaxError {
    SyntaxError::new(at, format!("unclosed {{{{{kind}}}}}: missing {{{{end}}}}"))
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".to_owned(),
        Tok::Open => "\"{{\"".to_owned(),
        Tok::Close => "\"}}\"".to_owned(),
        Tok::Ident(s) => format!("{s:?}"),
        Tok::Var(s) => format!("variable {s}"),
        Tok::Field(s) => format!("field .{s}"),
        Tok::Dot => "\".\"".to_owned(),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Num(_) => "number".to_owned(),
        Tok::Bool(b) => format!("{b}"),
        Tok::Nil => "nil".to_owned(),
        Tok::LParen => "\"(\"".to_owned(),
        Tok::RParen => "\")\"".to_owned(),
        Tok::Pipe => "\"|\"".to_owned(),
        Tok::Declare => "\":=\"".to_owned(),
        Tok::Assign => "\"=\"".to_owned(),
        Tok::Comma => "\",\"".to_owned(),
    }
}
