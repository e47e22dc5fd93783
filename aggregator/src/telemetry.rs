//! The aggregator's own metrics: every name it reports lives here.
//!
//! Recorded through the `metrics` facade; the binary installs the
//! Prometheus recorder that serves them on `/metrics`.

pub const LOG_INDEX_DOCUMENTS_TOTAL: &str = "weir_log_index_documents_total";
pub const LOG_INDEX_SKIPPED_RECORDS_TOTAL: &str = "weir_log_index_skipped_records_total";
pub const LOG_INDEX_EXPIRED_DOCUMENTS_TOTAL: &str = "weir_log_index_expired_documents_total";
pub const LOG_INDEX_COMMIT_SECONDS: &str = "weir_log_index_commit_duration_seconds";
pub const METRIC_SKIPPED_RECORDS_TOTAL: &str = "weir_metric_skipped_records_total";
pub const METRIC_WINDOWS_CLOSED_TOTAL: &str = "weir_metric_windows_closed_total";
pub const METRIC_DROPPED_POINTS_TOTAL: &str = "weir_metric_dropped_points_total";
pub const METRIC_ACTIVE_SERIES: &str = "weir_metric_active_series";
pub const METRIC_CHECKPOINT_SECONDS: &str = "weir_metric_checkpoint_duration_seconds";
pub const METRIC_STORE_CORRUPT_FILES_TOTAL: &str = "weir_metric_store_corrupt_files_total";
pub const LOG_QUERIES_TOTAL: &str = "weir_log_queries_total";
pub const LOG_QUERY_SECONDS: &str = "weir_log_query_duration_seconds";

/// Describes every metric once, so `/metrics` carries HELP lines.
pub fn describe() {
    metrics::describe_counter!(
        LOG_INDEX_DOCUMENTS_TOTAL,
        "log records indexed (documents added to the log index)"
    );
    metrics::describe_counter!(
        LOG_INDEX_SKIPPED_RECORDS_TOTAL,
        "otlp_logs records that did not decode as OTLP and were skipped"
    );
    metrics::describe_counter!(
        LOG_INDEX_EXPIRED_DOCUMENTS_TOTAL,
        "log records older than the index retention when indexed, dropped"
    );
    metrics::describe_histogram!(
        LOG_INDEX_COMMIT_SECONDS,
        metrics::Unit::Seconds,
        "time to commit a partition's splits and checkpoint"
    );
    metrics::describe_counter!(
        METRIC_SKIPPED_RECORDS_TOTAL,
        "otlp_metrics records that did not decode as OTLP and were skipped"
    );
    metrics::describe_counter!(
        METRIC_WINDOWS_CLOSED_TOTAL,
        "metric windows closed and published, by tier"
    );
    metrics::describe_counter!(
        METRIC_DROPPED_POINTS_TOTAL,
        "metric points not applied, by reason: late (window closed), future (clock ahead), malformed, tenant_series_limit, metric_series_limit"
    );
    metrics::describe_gauge!(
        METRIC_ACTIVE_SERIES,
        "series a metric worker holds, by partition"
    );
    metrics::describe_histogram!(
        METRIC_CHECKPOINT_SECONDS,
        metrics::Unit::Seconds,
        "time to persist a partition's windows and write its checkpoint"
    );
    metrics::describe_counter!(
        METRIC_STORE_CORRUPT_FILES_TOTAL,
        "metric window store files that did not decode, moved aside as .corrupt"
    );
    metrics::describe_counter!(LOG_QUERIES_TOTAL, "log queries by API and outcome");
    metrics::describe_histogram!(
        LOG_QUERY_SECONDS,
        metrics::Unit::Seconds,
        "time to answer a log query"
    );
}
