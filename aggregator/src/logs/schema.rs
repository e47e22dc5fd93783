//! The tantivy schema of a log split.
//!
//! Field names follow Quickwit's OTLP logs index, so that queries written
//! for Quickwit carry over (`service_name:checkout AND severity_text:ERROR`,
//! `attributes.http.method:GET`, `body:timeout`):
//!
//! | field | type | indexed as | fast | stored |
//! |---|---|---|---|---|
//! | `timestamp_nanos` | i64 | — (fast-field ranges) | yes | yes |
//! | `observed_timestamp_nanos` | i64 | — | no | yes |
//! | `service_name` | text | raw | yes | yes |
//! | `severity_text` | text | raw | yes | yes |
//! | `severity_number` | u64 | terms | yes | yes |
//! | `body` | text | [`BODY_TOKENIZER`] | no | yes |
//! | `body_bytes` | u64 | — | yes | no |
//! | `attributes` | JSON | raw, dotted keys expanded | no | yes |
//! | `resource_attributes` | JSON | raw, dotted keys expanded | no | yes |
//! | `trace_id`, `span_id` | text (hex) | raw | no | yes |
//! | `trace_flags` | u64 | — | no | yes |
//! | `scope_name` | text | raw | no | yes |
//! | `tenant` | text | raw | no | no |
//! | `labels` | JSON | raw | no | no |
//! | `offset` | u64 | — | yes | yes |
//!
//! `labels` is Weir's own: `{"<tenant>": {"<label>": "<value>", ...}}`, the
//! record's stream labels and structured metadata under their query-view
//! names (`k8s.pod.name` → `k8s_pod_name`) nested under its tenant, so
//! that an equality matcher of a LogQL stream selector becomes one term
//! lookup, and a tenant's label names and values are a prefix scan of the
//! term dictionary that never sees another tenant's. The id labels
//! ([`ID_LABELS`]: `trace_id`, `span_id`) are the exception: their values
//! are unique per record and already indexed in their own fields, so
//! `labels` holds only their names (with an empty value) when the value is
//! the record's own id. Indexing each id twice doubled the unique terms,
//! which dominate a segment's term-dictionary build and every merge. `offset` is the record's offset in its
//! partition: it makes replays checkable and lets a live tail follow what
//! was indexed since it last looked, whatever the records' timestamps.
//!
//! The body tokenizer splits on every character that is not alphanumeric
//! and lowercases, with no length limit: a LogQL `|= "rror"` is narrowed
//! with a regex over the body's terms (`.*rror.*`), which is only exact if
//! every part of every line is a term. tantivy itself skips a term longer
//! than `MAX_TOKEN_LEN` (65,530 bytes); `select.rs` keeps lines that long
//! as candidates (by `body_bytes`) for that reason.

use tantivy::Index;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, JsonObjectOptions, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer};

/// The tokenizer of `body`: words, lowercased, of any length.
pub const BODY_TOKENIZER: &str = "weir_body";

pub const TIMESTAMP_NANOS: &str = "timestamp_nanos";
pub const OBSERVED_TIMESTAMP_NANOS: &str = "observed_timestamp_nanos";
pub const SERVICE_NAME: &str = "service_name";
pub const SEVERITY_TEXT: &str = "severity_text";
pub const SEVERITY_NUMBER: &str = "severity_number";
pub const BODY: &str = "body";
pub const BODY_BYTES: &str = "body_bytes";
pub const ATTRIBUTES: &str = "attributes";
pub const RESOURCE_ATTRIBUTES: &str = "resource_attributes";
pub const TRACE_ID: &str = "trace_id";
pub const SPAN_ID: &str = "span_id";
pub const TRACE_FLAGS: &str = "trace_flags";
pub const SCOPE_NAME: &str = "scope_name";
pub const TENANT: &str = "tenant";
pub const LABELS: &str = "labels";
pub const OFFSET: &str = "offset";

/// Labels whose values live in their own fields rather than in `labels`
/// (see the module doc).
pub const ID_LABELS: [&str; 2] = [TRACE_ID, SPAN_ID];

/// The schema's fields, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub timestamp_nanos: Field,
    pub observed_timestamp_nanos: Field,
    pub service_name: Field,
    pub severity_text: Field,
    pub severity_number: Field,
    pub body: Field,
    pub body_bytes: Field,
    pub attributes: Field,
    pub resource_attributes: Field,
    pub trace_id: Field,
    pub span_id: Field,
    pub trace_flags: Field,
    pub scope_name: Field,
    pub tenant: Field,
    pub labels: Field,
    pub offset: Field,
}

/// The schema every split is created with.
pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let labels = JsonObjectOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic),
    );
    let raw_json = labels.clone().set_expand_dots_enabled();
    let body = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(BODY_TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        timestamp_nanos: builder.add_i64_field(TIMESTAMP_NANOS, FAST | STORED),
        observed_timestamp_nanos: builder.add_i64_field(OBSERVED_TIMESTAMP_NANOS, STORED),
        service_name: builder.add_text_field(SERVICE_NAME, STRING | FAST | STORED),
        severity_text: builder.add_text_field(SEVERITY_TEXT, STRING | FAST | STORED),
        severity_number: builder.add_u64_field(SEVERITY_NUMBER, INDEXED | FAST | STORED),
        body: builder.add_text_field(BODY, body),
        body_bytes: builder.add_u64_field(BODY_BYTES, FAST),
        attributes: builder.add_json_field(ATTRIBUTES, raw_json.clone().set_stored()),
        resource_attributes: builder
            .add_json_field(RESOURCE_ATTRIBUTES, raw_json.clone().set_stored()),
        trace_id: builder.add_text_field(TRACE_ID, STRING | STORED),
        span_id: builder.add_text_field(SPAN_ID, STRING | STORED),
        trace_flags: builder.add_u64_field(TRACE_FLAGS, STORED),
        scope_name: builder.add_text_field(SCOPE_NAME, STRING | STORED),
        tenant: builder.add_text_field(TENANT, STRING),
        labels: builder.add_json_field(LABELS, labels),
        offset: builder.add_u64_field(OFFSET, FAST | STORED),
    };
    (builder.build(), fields)
}

/// The analyzer of `body`: words, lowercased, of any length.
pub fn body_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .build()
}

/// Registers Weir's tokenizers on an index (tantivy does not persist them).
pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(BODY_TOKENIZER, body_analyzer());
}

/// The terms the body tokenizer makes of `text`.
pub fn body_tokens(text: &str) -> Vec<String> {
    let mut analyzer = body_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while let Some(token) = stream.next() {
        tokens.push(token.text.clone());
    }
    tokens
}
