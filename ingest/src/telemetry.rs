//! Ingest's own metrics: every name it reports lives here.
//!
//! Recorded through the `metrics` facade; the binary installs the
//! Prometheus recorder that serves them on `/metrics`.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::signal::Signal;

pub const REQUESTS: &str = "weir_ingest_requests_total";
pub const REQUEST_DURATION: &str = "weir_ingest_request_duration_seconds";
pub const RECEIVED_BYTES: &str = "weir_ingest_received_bytes_total";
pub const RECEIVED_ITEMS: &str = "weir_ingest_received_items_total";
pub const ACCEPTED_ITEMS: &str = "weir_ingest_accepted_items_total";
pub const REJECTED_ITEMS: &str = "weir_ingest_rejected_items_total";
pub const TRUNCATED_VALUES: &str = "weir_ingest_truncated_attribute_values_total";
pub const INFLIGHT_BYTES: &str = "weir_ingest_inflight_bytes";
pub const APPEND_DURATION: &str = "weir_ingest_log_append_duration_seconds";

/// Describes every metric once, so `/metrics` carries HELP lines.
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "OTLP export requests by signal, protocol and outcome"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "time from request to response"
    );
    metrics::describe_counter!(
        RECEIVED_BYTES,
        metrics::Unit::Bytes,
        "request bytes after decompression"
    );
    metrics::describe_counter!(RECEIVED_ITEMS, "log records, data points or spans received");
    metrics::describe_counter!(ACCEPTED_ITEMS, "items stored durably in the log");
    metrics::describe_counter!(
        REJECTED_ITEMS,
        "items rejected through OTLP partial success"
    );
    metrics::describe_counter!(
        TRUNCATED_VALUES,
        "attribute values cut to max_attribute_value_bytes"
    );
    metrics::describe_gauge!(
        INFLIGHT_BYTES,
        metrics::Unit::Bytes,
        "request bytes between receivers and the log"
    );
    metrics::describe_histogram!(
        APPEND_DURATION,
        metrics::Unit::Seconds,
        "time for a request's appends to become durable"
    );
}

pub fn request(signal: Signal, protocol: &'static str, outcome: &'static str, elapsed: Duration) {
    counter!(REQUESTS, "signal" => signal.name(), "protocol" => protocol, "outcome" => outcome)
        .increment(1);
    histogram!(REQUEST_DURATION, "signal" => signal.name(), "protocol" => protocol)
        .record(elapsed.as_secs_f64());
}

pub fn received(signal: Signal, bytes: usize) {
    counter!(RECEIVED_BYTES, "signal" => signal.name()).increment(bytes as u64);
}

pub fn items(signal: Signal, received: u64, accepted: u64, rejected: u64, truncated: u64) {
    counter!(RECEIVED_ITEMS, "signal" => signal.name()).increment(received);
    counter!(ACCEPTED_ITEMS, "signal" => signal.name()).increment(accepted);
    counter!(REJECTED_ITEMS, "signal" => signal.name()).increment(rejected);
    if truncated > 0 {
        counter!(TRUNCATED_VALUES, "signal" => signal.name()).increment(truncated);
    }
}

pub fn inflight(bytes: usize) {
    gauge!(INFLIGHT_BYTES).set(bytes as f64);
}

pub fn append(signal: Signal, elapsed: Duration) {
    histogram!(APPEND_DURATION, "signal" => signal.name()).record(elapsed.as_secs_f64());
}
