//! The LogQL engine: a hand-written parser and an evaluator with Loki's
//! semantics, reading logs only through [`LogSource`](super::source::LogSource).
//!
//! # Use
//! [`parse`] turns a query into an [`Expr`] (whose [`Expr::kind`] says log
//! or metric and [`Expr::selectors`] lists its stream matchers);
//! [`LogQlEngine::instant`] and [`LogQlEngine::range`] evaluate one into a
//! [`QueryOutput`]: a [`QueryResult`] (streams, vector, matrix or scalar)
//! and [`QueryStats`]. Evaluation is blocking and bounded by
//! [`QueryLimits`](crate::query::QueryLimits): `max_hits` caps a log
//! query's `limit`, `max_series` the streams or series held at once,
//! `max_samples` the samples a metric query holds, and `timeout` the wall
//! time (checked every few hundred entries and between operators).
//!
//! # Syntax
//! - Stream selector `{name op "value", ...}` with `=`, `!=`, `=~`, `!~`
//!   (anchored regexes); at least one matcher must not match "".
//! - Line filters `|= "s"`, `!= "s"`, `|~ "re"`, `!~ "re"` (unanchored),
//!   each with optional `or "alternative"` (`!= "a" or "b"` keeps lines
//!   with neither). Strings are `"..."` with Go escapes or raw `` `...` ``.
//! - Parsers `| json`, `| json a="path.to[0]", b`, `| logfmt [--strict]
//!   [--keep-empty] [a="key", b]`, `| regexp "(?P<name>re)"`.
//! - Label filters `| name op "value"` (string ops, `==` as `=`), numeric
//!   `| status >= 500`, durations `| latency > 250ms`, byte sizes
//!   `| size > 1KB`, combined with `and`, `,`, `or` and parentheses (`and`
//!   binds tighter than `or`).
//! - `| drop a, b="v"`, `| keep a, b=~"v.*"`, `| line_format "{{.a}} x"`.
//! - Range aggregations `count_over_time`, `rate`, `bytes_over_time`,
//!   `bytes_rate`; with `| unwrap [duration|duration_seconds|bytes](label)
//!   [| label filters]`: `sum_`, `avg_`, `min_`, `max_`, `first_`,
//!   `last_`, `stddev_`, `stdvar_over_time`, `quantile_over_time(φ, ...)`
//!   and `rate` (sum per second), these with optional `by`/`without`. The
//!   range `[5m]` goes after the selector or after the pipeline, with an
//!   optional `offset 1h`.
//! - Vector aggregations `sum avg min max count stddev stdvar` with
//!   `by (...)`/`without (...)` before or after the argument, `topk(k, v)`,
//!   `bottomk(k, v)`, `sort(v)`, `sort_desc(v)`; `vector(n)`; numbers.
//! - Binary operators `+ - * / % ^`, comparisons `== != > >= < <=` (with
//!   optional `bool`), `and or unless`, with `on (...)`/`ignoring (...)`;
//!   unary minus; parentheses; `#` comments.
//!
//! # Semantics
//! Extracted labels join an entry's labels (a name a stream label already
//! has becomes `<name>_extracted`); structured metadata is visible to
//! selectors, label filters and grouping. Parser failures set `__error__`
//! (`JSONParserErr`, `LogfmtParserErr`, `LabelFilterErr`,
//! `SampleExtractionErr`) and `__error_details__`; a metric query whose
//! samples still carry `__error__` fails, as in Loki. A log query's streams
//! are keyed by stream and extracted labels, and each entry keeps its
//! structured metadata separately (see [`result`]). Range windows are
//! `(t - offset - range, t - offset]` at each step `t` from start to end
//! inclusive; one `select` covers all of them. Every `|=` literal before a
//! `line_format` is passed to the source as a required substring; the
//! engine still checks every filter, matcher and time bound itself.
//!
//! # Deviations from Loki
//! - Not supported: `label_format`, `pattern`, `unpack`, `decolorize`,
//!   `distinct`, `|>` pattern filters, `ip(...)` filters, `line_format`
//!   actions other than `{{.label}}` (and `{{.__line__}}`),
//!   `absent_over_time`, `rate_counter`, `label_replace`,
//!   `group_left`/`group_right`, `@` modifiers.
//! - Instant log queries are refused (as Loki 3 refuses them); log queries
//!   run as range queries over `[start, end)`.
//! - `| json` prints numbers as serde_json does (`1.50` becomes `1.5`,
//!   `1e3` becomes `1000.0`); Loki keeps the text of the line.
//! - Empty label values are dropped everywhere, so `--keep-empty` has no
//!   effect, and a numeric filter drops an entry with an empty value
//!   rather than marking it `LabelFilterErr`.
//! - `| drop __error__` also drops `__error_details__`.
//! - Structured metadata colliding with a stream label is renamed
//!   `<name>_extracted`.
//! - Stream selectors may name structured metadata (Weir indexes it).
//! - Default `| logfmt` skips malformed pairs; only `--strict` reports
//!   `LogfmtParserErr`.

pub mod ast;
mod binary;
mod context;
mod engine;
mod entry_labels;
mod json;
mod lexer;
mod logfmt;
mod matrix;
mod parser;
mod pipeline;
mod range;
pub mod result;
mod streams;
mod units;
mod vector;

#[cfg(test)]
mod tests;

pub use ast::{Expr, QueryKind};
pub use engine::{LogQlEngine, RangeWindow};
pub use parser::parse;
pub use result::{QueryOutput, QueryResult, QueryStats, Sample, Series, Stream, StreamEntry};
