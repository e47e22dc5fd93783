//! The log's own metrics: every name it reports lives here. Recorded
//! through the `metrics` facade; the binary installs the recorder that
//! serves them on `/metrics`.

use std::time::Duration;

use metrics::{counter, histogram};

/// Batches appended, by `topic`.
pub const APPENDED_BATCHES: &str = "weir_log_appended_batches_total";
/// Bytes of batches appended, by `topic`.
pub const APPENDED_BYTES: &str = "weir_log_appended_bytes_total";
/// Time of one group-commit round's write and `fdatasync`.
pub const SYNC_DURATION: &str = "weir_log_sync_duration_seconds";
/// Appends acknowledged by one sync round.
pub const SYNC_APPENDS: &str = "weir_log_sync_round_appends";
/// Kafka protocol requests, by `api`.
pub const KAFKA_REQUESTS: &str = "weir_kafka_requests_total";
/// Time to answer a Kafka request, by `api`.
pub const KAFKA_REQUEST_DURATION: &str = "weir_kafka_request_duration_seconds";

/// Describes every metric once, so `/metrics` carries HELP lines.
pub fn describe() {
    metrics::describe_counter!(APPENDED_BATCHES, "record batches appended to the log");
    metrics::describe_counter!(
        APPENDED_BYTES,
        metrics::Unit::Bytes,
        "bytes of record batches appended"
    );
    metrics::describe_histogram!(
        SYNC_DURATION,
        metrics::Unit::Seconds,
        "write and fdatasync of one group-commit round"
    );
    metrics::describe_histogram!(
        SYNC_APPENDS,
        "appends made durable by one group-commit round"
    );
    metrics::describe_counter!(KAFKA_REQUESTS, "Kafka protocol requests by api");
    metrics::describe_histogram!(
        KAFKA_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "time to answer a Kafka request"
    );
}

pub(crate) fn appended(topic: &str, bytes: usize) {
    counter!(APPENDED_BATCHES, "topic" => topic.to_owned()).increment(1);
    counter!(APPENDED_BYTES, "topic" => topic.to_owned()).increment(bytes as u64);
}

pub(crate) fn synced(took: Duration, appends: usize) {
    histogram!(SYNC_DURATION).record(took.as_secs_f64());
    histogram!(SYNC_APPENDS).record(appends as f64);
}

pub(crate) fn kafka_request(api: &'static str, took: Duration) {
    counter!(KAFKA_REQUESTS, "api" => api).increment(1);
    histogram!(KAFKA_REQUEST_DURATION, "api" => api).record(took.as_secs_f64());
}
