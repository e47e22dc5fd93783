//! The parsed form of a template: a tree of text, actions and control
//! structures whose commands carry their source position.
//!
//! Invariants (established by the parser): every function is known and
//! supported, every variable is declared before use, a command that is
//! not a function call has no arguments and is never a later pipeline
//! stage, and nesting is at most [`super::MAX_DEPTH`] deep.

use std::fmt;

use super::functions::Func;

/// A line and column (both from 1, the column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A numeric literal: Go's untyped constants become `int` unless written
/// with a fraction or exponent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    /// `{{ pipeline }}`: printed unless it declares or assigns a variable.
    Action(Pipeline),
    /// `if`/`with` with their `else if`/`else with` chain.
    Cond {
        branches: Vec<Branch>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
pub struct Branch {
    /// `with` rebinds dot to the pipeline's value; `if` does not.
    pub with: bool,
    pub pipe: Pipeline,
    pub body: Vec<Node>,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`): one, or two in `range`.
    pub vars: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub head: Term,
    pub args: Vec<Term>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum Term {
    Func(Func),
    Dot,
    /// `.a.b`: fields of dot.
    Field(Vec<String>),
    /// `$x.a.b`.
    Var(String, Vec<String>),
    /// `(pipeline).a.b`.
    Sub(Box<Pipeline>, Vec<String>),
    Str(String),
    Num(Number),
    Bool(bool),
    Nil,
}
