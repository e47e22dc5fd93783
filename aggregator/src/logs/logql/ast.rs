//! The LogQL syntax tree the parser builds and the evaluator walks.
//!
//! Regexes are compiled once, while parsing, so an invalid one is a parse
//! error with a position rather than a failure halfway through a query.

use std::fmt;

use regex::Regex;

use crate::labels::Matcher;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A log query: a stream selector and a pipeline.
    Log(LogExpr),
    /// `count_over_time({...}[5m])` and friends.
    RangeAggregation(RangeAggregation),
    /// `sum by (x) (...)` and friends.
    VectorAggregation(VectorAggregation),
    Binary(BinaryExpr),
    /// A scalar literal.
    Number(f64),
    /// `vector(1)`: a one-sample vector with no labels.
    Vector(f64),
}

/// Whether a query returns log lines or numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Log,
    Metric,
}

impl Expr {
    pub fn kind(&self) -> QueryKind {
        match self {
            Expr::Log(_) => QueryKind::Log,
            _ => QueryKind::Metric,
        }
    }

    /// The stream selectors of every log expression in the query, in order
    /// (what a `/series`-style caller or a cache needs to know).
    pub fn selectors(&self) -> Vec<&[Matcher]> {
        let mut out = Vec::new();
        self.collect_selectors(&mut out);
        out
    }

    fn collect_selectors<'a>(&'a self, out: &mut Vec<&'a [Matcher]>) {
        match self {
            Expr::Log(log) => out.push(&log.matchers),
            Expr::RangeAggregation(range) => out.push(&range.log.matchers),
            Expr::VectorAggregation(agg) => agg.inner.collect_selectors(out),
            Expr::Binary(binary) => {
                binary.lhs.collect_selectors(out);
                binary.rhs.collect_selectors(out);
            }
            Expr::Number(_) | Expr::Vector(_) => {}
        }
    }

    /// Whether the expression evaluates to a scalar rather than a vector.
    pub(crate) fn is_scalar(&self) -> bool {
        match self {
            Expr::Number(_) => true,
            Expr::Binary(binary) => binary.lhs.is_scalar() && binary.rhs.is_scalar(),
            _ => false,
        }
    }
}

/// `{selector} | stage | stage ...`
#[derive(Debug, Clone, PartialEq)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub stages: Vec<Stage>,
}

/// One step of a log pipeline, applied in order to each line.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    LineFilter(LineFilter),
    /// `| json` (every field, flattened) or `| json a="path", b`.
    Json(Vec<Extraction>),
    /// `| logfmt [--strict] [a="key", b]`.
    Logfmt {
        strict: bool,
        extractions: Vec<Extraction>,
    },
    /// `| regexp "(?P<name>...)"`: named captures become labels.
    Regexp(Pattern),
    LabelFilter(LabelFilter),
    /// `| drop a, b="v"`
    Drop(Vec<LabelSelector>),
    /// `| keep a, b="v"`
    Keep(Vec<LabelSelector>),
    /// `| line_format "{{.a}} ..."`
    LineFormat(Vec<TemplatePart>),
}

/// A compiled regex that compares by its source text.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

/// `|= "a" or "b"`: the line is kept when any needle is found (for `|=`,
/// `|~`), or when none is (for `!=`, `!~`).
#[derive(Debug, Clone, PartialEq)]
pub struct LineFilter {
    pub negated: bool,
    pub needles: Vec<Needle>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Needle {
    Literal(String),
    /// Unanchored, as in Loki: it may match anywhere in the line.
    Regex(Pattern),
}

/// A label to extract and where its value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    pub label: String,
    /// For JSON, the path into the document; for logfmt, one key.
    pub path: Vec<PathPart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

/// A label filter expression (`| a = "x" and (b > 5 or c < 1s)`).
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// A string comparison; a missing label compares as "".
    Match(Matcher),
    /// A numeric comparison of the label's value read as `unit`.
    Compare {
        name: String,
        op: CompareOp,
        /// Seconds for durations, bytes for byte sizes.
        value: f64,
        unit: Unit,
    },
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub(crate) fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
        }
    }
}

/// How a label value is read as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Number,
    /// A Go duration, in seconds.
    Duration,
    /// A byte size such as `1.5KiB`, in bytes.
    Bytes,
}

/// A `drop`/`keep` operand: a name, or a matcher on the label's value.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSelector {
    Name(String),
    Matcher(Matcher),
}

impl LabelSelector {
    pub(crate) fn selects(&self, name: &str, value: &str) -> bool {
        match self {
            LabelSelector::Name(n) => n == name,
            LabelSelector::Matcher(m) => m.name == name && m.matches(value),
        }
    }
}

/// A piece of a `line_format` template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    /// `{{.name}}`; `__line__` is the current line.
    Label(String),
}

/// `op([param,] log_range) [by|without (...)]`
#[derive(Debug, Clone, PartialEq)]
pub struct RangeAggregation {
    pub op: RangeOp,
    /// φ for `quantile_over_time`.
    pub param: Option<f64>,
    pub log: LogExpr,
    pub unwrap: Option<Unwrap>,
    pub range_nanos: i64,
    pub offset_nanos: i64,
    /// Only for unwrapped aggregations, as in Loki.
    pub grouping: Option<Grouping>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    CountOverTime,
    Rate,
    BytesOverTime,
    BytesRate,
    SumOverTime,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    FirstOverTime,
    LastOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
}

impl RangeOp {
    pub(crate) const ALL: [(&'static str, RangeOp); 13] = [
        ("count_over_time", RangeOp::CountOverTime),
        ("rate", RangeOp::Rate),
        ("bytes_over_time", RangeOp::BytesOverTime),
        ("bytes_rate", RangeOp::BytesRate),
        ("sum_over_time", RangeOp::SumOverTime),
        ("avg_over_time", RangeOp::AvgOverTime),
        ("min_over_time", RangeOp::MinOverTime),
        ("max_over_time", RangeOp::MaxOverTime),
        ("first_over_time", RangeOp::FirstOverTime),
        ("last_over_time", RangeOp::LastOverTime),
        ("stddev_over_time", RangeOp::StddevOverTime),
        ("stdvar_over_time", RangeOp::StdvarOverTime),
        ("quantile_over_time", RangeOp::QuantileOverTime),
    ];

    /// Whether the operation reads an unwrapped value (required), rather
    /// than counting lines or bytes (where unwrap is refused). `rate` may
    /// go either way.
    pub(crate) fn needs_unwrap(self) -> Option<bool> {
        match self {
            RangeOp::CountOverTime | RangeOp::BytesOverTime | RangeOp::BytesRate => Some(false),
            RangeOp::Rate => None,
            _ => Some(true),
        }
    }
}

impl fmt::Display for RangeOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = RangeOp::ALL
            .iter()
            .find(|(_, op)| op == self)
            .map_or("?", |(name, _)| name);
        f.write_str(name)
    }
}

/// `| unwrap [duration|bytes](label) [| label filters]`
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrap {
    pub label: String,
    pub unit: Unit,
    /// Label filters after the unwrap (`| __error__=""`).
    pub filters: Vec<LabelFilter>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorAggregation {
    pub op: VectorOp,
    /// k for `topk` and `bottomk`.
    pub param: Option<f64>,
    pub grouping: Option<Grouping>,
    pub inner: Box<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Sort,
    SortDesc,
}

impl VectorOp {
    pub(crate) const ALL: [(&'static str, VectorOp); 11] = [
        ("sum", VectorOp::Sum),
        ("avg", VectorOp::Avg),
        ("min", VectorOp::Min),
        ("max", VectorOp::Max),
        ("count", VectorOp::Count),
        ("stddev", VectorOp::Stddev),
        ("stdvar", VectorOp::Stdvar),
        ("topk", VectorOp::Topk),
        ("bottomk", VectorOp::Bottomk),
        ("sort", VectorOp::Sort),
        ("sort_desc", VectorOp::SortDesc),
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    pub op: BinaryOp,
    pub lhs: Box<Expr>,
    pub rhs: Box<Expr>,
    /// `bool`: comparisons return 0/1 instead of filtering.
    pub return_bool: bool,
    /// `on (...)` / `ignoring (...)`; `None` matches on all labels.
    pub matching: Option<VectorMatching>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    pub on: bool,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
    Unless,
}

impl BinaryOp {
    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le
        )
    }

    pub(crate) fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}
