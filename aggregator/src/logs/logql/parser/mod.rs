//! A recursive-descent LogQL parser: this file holds the token cursor and
//! the metric-expression grammar; [`stages`] holds selectors and pipelines,
//! [`embedded`] the languages inside string literals.
//!
//! Binary operator precedence, loosest first, as in PromQL and Loki: `or`;
//! `and`, `unless`; comparisons; `+ -`; `* / %`; `^` (right associative).
//! A unary minus binds looser than `^` (`-2^2` is -4).

mod embedded;
mod stages;

use crate::error::{AggregatorError, Result};

use super::ast::{
    BinaryExpr, BinaryOp, Expr, Grouping, RangeAggregation, RangeOp, VectorAggregation,
    VectorMatching, VectorOp,
};
use super::lexer::{self, Token, TokenKind};

/// Nesting (parentheses, aggregations, operands) a query may use: deeper
/// than any real query, shallow enough that recursion never nears the
/// stack of a query thread.
const MAX_DEPTH: usize = 100;

/// Parses a LogQL query.
pub fn parse(query: &str) -> Result<Expr> {
    let mut parser = Parser {
        tokens: lexer::tokenize(query)?,
        at: 0,
        depth: 0,
    };
    let expr = parser.expr(0)?;
    if *parser.peek() != TokenKind::Eof {
        return Err(parser.unexpected("an operator or the end of the query"));
    }
    Ok(expr)
}

pub(super) fn error(position: usize, message: impl Into<String>) -> AggregatorError {
    AggregatorError::Parse {
        position,
        message: message.into(),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &TokenKind {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &TokenKind {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.at + n).min(last)].kind
    }

    fn pos(&self) -> usize {
        self.tokens[self.at.min(self.tokens.len() - 1)].pos
    }

    fn advance(&mut self) -> Token {
        let token = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        token
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let found = self.peek() == kind;
        if found {
            self.advance();
        }
        found
    }

    /// `unexpected "x", expected <expected>` at the current token.
    fn unexpected(&self, expected: &str) -> AggregatorError {
        error(
            self.pos(),
            format!("unexpected {}, expected {expected}", self.peek().describe()),
        )
    }

    fn expect(&mut self, kind: TokenKind) -> Result<usize> {
        if *self.peek() == kind {
            Ok(self.advance().pos)
        } else {
            Err(self.unexpected(&kind.describe()))
        }
    }

    fn expect_ident(&mut self, expected: &str) -> Result<(String, usize)> {
        match self.peek().clone() {
            TokenKind::Ident(name) => Ok((name, self.advance().pos)),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn expect_string(&mut self, expected: &str) -> Result<(String, usize)> {
        match self.peek().clone() {
            TokenKind::Str(value) => Ok((value, self.advance().pos)),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn ident_is(&self, n: usize, word: &str) -> bool {
        matches!(self.peek_at(n), TokenKind::Ident(name) if name == word)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(
                self.pos(),
                format!("query nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self, min_precedence: u8) -> Result<Expr> {
        self.enter()?;
        let mut lhs = self.unary()?;
        while let Some((op, precedence)) = self.binary_op() {
            if precedence < min_precedence {
                break;
            }
            let op_pos = self.advance().pos;
            let return_bool = self.ident_is(0, "bool");
            if return_bool {
                self.advance();
            }
            let matching = self.matching()?;
            let next_min = if op == BinaryOp::Pow {
                precedence
            } else {
                precedence + 1
            };
            let rhs = self.expr(next_min)?;
            lhs = binary(op, op_pos, lhs, rhs, return_bool, matching)?;
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn binary_op(&self) -> Option<(BinaryOp, u8)> {
        Some(match self.peek() {
            TokenKind::Ident(word) => match word.as_str() {
                "or" => (BinaryOp::Or, 1),
                "and" => (BinaryOp::And, 2),
                "unless" => (BinaryOp::Unless, 2),
                _ => return None,
            },
            TokenKind::EqEq => (BinaryOp::Eq, 3),
            TokenKind::Neq => (BinaryOp::Ne, 3),
            TokenKind::Gt => (BinaryOp::Gt, 3),
            TokenKind::Ge => (BinaryOp::Ge, 3),
            TokenKind::Lt => (BinaryOp::Lt, 3),
            TokenKind::Le => (BinaryOp::Le, 3),
            TokenKind::Add => (BinaryOp::Add, 4),
            TokenKind::Sub => (BinaryOp::Sub, 4),
            TokenKind::Mul => (BinaryOp::Mul, 5),
            TokenKind::Div => (BinaryOp::Div, 5),
            TokenKind::Mod => (BinaryOp::Mod, 5),
            TokenKind::Pow => (BinaryOp::Pow, 6),
            _ => return None,
        })
    }

    /// `on (...)` or `ignoring (...)` after a binary operator.
    fn matching(&mut self) -> Result<Option<VectorMatching>> {
        let on = self.ident_is(0, "on");
        if !on && !self.ident_is(0, "ignoring") {
            return Ok(None);
        }
        self.advance();
        let labels = self.label_list()?;
        if self.ident_is(0, "group_left") || self.ident_is(0, "group_right") {
            return Err(error(
                self.pos(),
                "group_left and group_right are not supported; only one-to-one matching is",
            ));
        }
        Ok(Some(VectorMatching { on, labels }))
    }

    fn unary(&mut self) -> Result<Expr> {
        let sign_pos = self.pos();
        let negative = match self.peek() {
            TokenKind::Sub => true,
            TokenKind::Add => false,
            _ => return self.primary(),
        };
        self.advance();
        let operand = self.expr(6)?;
        Ok(match operand {
            Expr::Number(value) if negative => Expr::Number(-value),
            Expr::Log(_) => return Err(error(sign_pos, "a log query cannot be negated")),
            operand if negative => Expr::Binary(BinaryExpr {
                op: BinaryOp::Mul,
                lhs: Box::new(Expr::Number(-1.0)),
                rhs: Box::new(operand),
                return_bool: false,
                matching: None,
            }),
            operand => operand,
        })
    }

    fn primary(&mut self) -> Result<Expr> {
        match self.peek().clone() {
            TokenKind::LParen => {
                self.advance();
                let inner = self.expr(0)?;
                self.expect(TokenKind::RParen)?;
                Ok(inner)
            }
            TokenKind::Number(value) => {
                self.advance();
                Ok(Expr::Number(value))
            }
            TokenKind::LBrace => {
                let log = self.log_expr()?;
                if *self.peek() == TokenKind::LBracket {
                    return Err(error(
                        self.pos(),
                        "a range is only allowed inside a range aggregation such as \
                         count_over_time({...}[5m])",
                    ));
                }
                Ok(Expr::Log(log))
            }
            TokenKind::Ident(name) => self.function(&name),
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn function(&mut self, name: &str) -> Result<Expr> {
        if let Some((_, op)) = RangeOp::ALL.iter().find(|(n, _)| *n == name) {
            return self.range_aggregation(*op);
        }
        if let Some((_, op)) = VectorOp::ALL.iter().find(|(n, _)| *n == name) {
            return self.vector_aggregation(*op);
        }
        if name == "vector" {
            self.advance();
            self.expect(TokenKind::LParen)?;
            let value = self.signed_number("a number")?;
            self.expect(TokenKind::RParen)?;
            return Ok(Expr::Vector(value));
        }
        if *self.peek_at(1) == TokenKind::LParen {
            return Err(error(self.pos(), format!("unknown function {name:?}")));
        }
        Err(self.unexpected("an expression"))
    }

    fn signed_number(&mut self, expected: &str) -> Result<f64> {
        let sign = if self.eat(&TokenKind::Sub) { -1.0 } else { 1.0 };
        match *self.peek() {
            TokenKind::Number(value) => {
                self.advance();
                Ok(sign * value)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn range_aggregation(&mut self, op: RangeOp) -> Result<Expr> {
        let name_pos = self.advance().pos;
        self.expect(TokenKind::LParen)?;
        let param = if op == RangeOp::QuantileOverTime {
            let phi = self.signed_number("a quantile such as 0.99")?;
            self.expect(TokenKind::Comma)?;
            Some(phi)
        } else {
            None
        };
        let (log, unwrap, range_nanos, offset_nanos) = self.log_range()?;
        self.expect(TokenKind::RParen)?;
        let grouping_pos = self.pos();
        let grouping = self.grouping()?;
        match (op.needs_unwrap(), &unwrap) {
            (Some(true), None) => {
                return Err(error(
                    name_pos,
                    format!("{op} needs an unwrapped label, e.g. | unwrap latency"),
                ));
            }
            (Some(false), Some(_)) => {
                return Err(error(name_pos, format!("{op} cannot be used with unwrap")));
            }
            _ => {}
        }
        if grouping.is_some() && unwrap.is_none() {
            return Err(error(
                grouping_pos,
                format!("grouping is only allowed on unwrapped range aggregations, not {op}"),
            ));
        }
        Ok(Expr::RangeAggregation(RangeAggregation {
            op,
            param,
            log,
            unwrap,
            range_nanos,
            offset_nanos,
            grouping,
        }))
    }

    fn vector_aggregation(&mut self, op: VectorOp) -> Result<Expr> {
        let name_pos = self.advance().pos;
        let mut grouping = self.grouping()?;
        self.expect(TokenKind::LParen)?;
        let param = if matches!(op, VectorOp::Topk | VectorOp::Bottomk) {
            let k_pos = self.pos();
            let k = self.signed_number("a number of series")?;
            if k < 1.0 || k.fract() != 0.0 || k > u32::MAX as f64 {
                return Err(error(
                    k_pos,
                    format!("invalid k {k}: must be a positive integer"),
                ));
            }
            self.expect(TokenKind::Comma)?;
            Some(k)
        } else {
            None
        };
        let inner_pos = self.pos();
        let inner = self.expr(0)?;
        if matches!(inner, Expr::Log(_)) || inner.is_scalar() {
            return Err(error(
                inner_pos,
                "expected a vector expression such as count_over_time({...}[5m])",
            ));
        }
        self.expect(TokenKind::RParen)?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        } else if self.ident_is(0, "by") || self.ident_is(0, "without") {
            return Err(self.unexpected("one grouping clause only"));
        }
        if grouping.is_some() && matches!(op, VectorOp::Sort | VectorOp::SortDesc) {
            return Err(error(name_pos, "sort and sort_desc take no grouping"));
        }
        Ok(Expr::VectorAggregation(VectorAggregation {
            op,
            param,
            grouping,
            inner: Box::new(inner),
        }))
    }

    fn grouping(&mut self) -> Result<Option<Grouping>> {
        let without = self.ident_is(0, "without");
        if !without && !self.ident_is(0, "by") {
            return Ok(None);
        }
        self.advance();
        let labels = self.label_list()?;
        Ok(Some(Grouping { without, labels }))
    }

    /// `(a, b, c)`, possibly empty.
    fn label_list(&mut self) -> Result<Vec<String>> {
        self.expect(TokenKind::LParen)?;
        let mut labels = Vec::new();
        while !self.eat(&TokenKind::RParen) {
            labels.push(self.expect_ident("a label name")?.0);
            if !self.eat(&TokenKind::Comma) {
                self.expect(TokenKind::RParen)?;
                break;
            }
        }
        Ok(labels)
    }
}

/// Builds `lhs op rhs`, refusing the combinations Loki refuses.
fn binary(
    op: BinaryOp,
    op_pos: usize,
    lhs: Expr,
    rhs: Expr,
    return_bool: bool,
    matching: Option<VectorMatching>,
) -> Result<Expr> {
    if matches!(lhs, Expr::Log(_)) || matches!(rhs, Expr::Log(_)) {
        return Err(error(
            op_pos,
            "a log query cannot be an operand of a binary operator; aggregate it first, \
             e.g. count_over_time({...}[5m])",
        ));
    }
    if return_bool && !op.is_comparison() {
        return Err(error(
            op_pos,
            "bool modifier is only allowed on comparisons",
        ));
    }
    let scalars = lhs.is_scalar() || rhs.is_scalar();
    if op.is_comparison() && !return_bool && lhs.is_scalar() && rhs.is_scalar() {
        return Err(error(
            op_pos,
            "comparisons between scalars must use the bool modifier",
        ));
    }
    if op.is_set() && scalars {
        return Err(error(op_pos, "set operators are not allowed with scalars"));
    }
    if matching.is_some() && scalars {
        return Err(error(
            op_pos,
            "vector matching is only allowed between vectors",
        ));
    }
    Ok(Expr::Binary(BinaryExpr {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        return_bool,
        matching,
    }))
}
