//! The command line.
//!
//! ```text
//! weir serve [--config FILE] [--data-dir DIR]
//! weir log [--config FILE] [--data-dir DIR] topics
//! weir log ... describe TOPIC
//! weir log ... produce TOPIC [--key K] [--partition P] [--in-flight N]
//! weir log ... dump TOPIC [--partition P] [--from OFFSET] [--limit N] [--json]
//! weir log ... check [--repair]
//! weir bench log [--seconds S] [--rounds N] [--appenders 1,8,64] ...
//! weir bench logs [--records N] [--partitions P] [--queries N] [--dir DIR] ...
//! weir bench metrics [--points N] [--series N] [--hours H] [--victoria PATH] ...
//! weir logs [--server URL] [--token T] search QUERY [--since 1h] [--limit N] [--json]
//! weir logs ... tail [QUERY] [--json]
//! weir logs [--config FILE] [--data-dir DIR] reindex
//! weir metrics [--server URL] [--token T] query PROMQL [--time T] [--range 1h [--step 1m] [--end T]] [--json]
//! weir metrics ... series [MATCH...] [--since 1h] [--json]
//! weir alerts [--server URL] [--token T] list [--json]
//! weir silences [--server URL] [--token T] add MATCHER... [--duration 2h | --end T] [--comment C] [--author A]
//! weir silences ... list [--filter MATCHER]... [--json]
//! weir silences ... expire ID...
//! weir rules check [--logql] FILE...
//! weir loadgen [--signal logs|metrics|traces] [--protocol grpc|http] [--endpoint URL]
//!              [--rate N] [--concurrency N] [--batch-size N] [--duration D] [--requests N]
//!              [--services N] [--series N] [--compression none|gzip] [--token T] [--seed S]
//! ```
//!
//! Exit codes: 0 success, 1 runtime failure (or problems found by `check`
//! or `rules check`,
//! or a `loadgen` run in which no request was acknowledged), 2 a usage or
//! configuration error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::bench::log::LogBenchArgs;
use crate::bench::logs::LogsBenchArgs;
use crate::bench::metrics::MetricsBenchArgs;
use crate::loadgen::LoadgenArgs;

#[derive(Debug, Parser)]
#[command(
    name = "weir",
    version,
    about = "An observability ingestion appliance: OTLP in, a durable Kafka-format log out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance until SIGINT or SIGTERM
    Serve(ConfigArgs),
    /// Inspect, write and repair a data dir offline (refused while a server holds its lock)
    Log(LogArgs),
    /// Load benchmarks printing throughput and latency percentiles
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Search, tail and rebuild the log index
    Logs(LogsArgs),
    /// Query a running server's metrics with PromQL
    Metrics(MetricsArgs),
    /// Send OTLP logs, metrics or traces to a receiver and report throughput and latency
    ///
    /// Prints progress to stderr once per second and a report to stdout:
    /// requests, records (log records, data points or spans) acknowledged
    /// and rejected, records/s, MB/s of encoded requests (before
    /// compression), acknowledgement latency percentiles and failed
    /// requests by gRPC code or HTTP status. Failed requests are reported,
    /// not fatal; the exit code is 1 only if none was acknowledged.
    Loadgen(LoadgenArgs),
    /// List a running server's pending and firing alerts
    Alerts {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Create, list and expire silences on a running server
    Silences {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: SilencesCommand,
    },
    /// Check rule files offline
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

/// How a client command reaches a running server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The server's HTTP API (default: the configured `listen.http` on loopback)
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<String>,
    /// Bearer token, when the server requires one
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// One line per alert: state, active since, labels, value
    List {
        /// One JSON object per line, as `/api/v1/alerts` has them
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SilencesCommand {
    /// Silence alerts matching every MATCHER (`alertname="DiskFull"`, `instance=~"db-.*"`); prints the id
    Add(SilenceAddArgs),
    /// List silences, active first
    List {
        /// Only silences with this matcher (repeatable), as Alertmanager's `filter`
        #[arg(long)]
        filter: Vec<String>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Expire silences now
    Expire {
        /// Silence ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct SilenceAddArgs {
    /// Matchers; every one must match
    pub matchers: Vec<String>,
    /// How long from the start (`30m`, `2h`, `1d`)
    #[arg(long, default_value = "1h", conflicts_with = "end")]
    pub duration: String,
    /// Start: RFC 3339 (default now)
    #[arg(long)]
    pub start: Option<String>,
    /// End: RFC 3339
    #[arg(long)]
    pub end: Option<String>,
    /// Why
    #[arg(long, short = 'm', required = true)]
    pub comment: String,
    /// Who (default: $USER)
    #[arg(long)]
    pub author: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Parse and validate rule files: every expression and template, with positions; exit 1 on any problem
    Check {
        /// The files
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Groups without a `language` key are LogQL (Loki ruler files), not PromQL
        #[arg(long)]
        logql: bool,
    },
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The server's HTTP API (default: the configured `listen.http` on loopback)
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<String>,
    /// Bearer token, when the server requires one
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: MetricsCommand,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Evaluate a PromQL query: instant by default, a range query with --range
    ///
    /// Prints one line per series (`{labels} value`), or for a range query
    /// the labels and then one `time value` line per point. Examples:
    /// `weir metrics query 'sum by (service_name) (rate(http_server_duration_count[5m]))'`,
    /// `weir metrics query 'up' --range 1h --step 1m`.
    Query(MetricsQueryArgs),
    /// List the series matching selectors (all series of the range without one)
    Series(MetricsSeriesArgs),
}

#[derive(Debug, Args)]
pub struct MetricsQueryArgs {
    /// The PromQL query
    pub query: String,
    /// Evaluation time of an instant query: RFC 3339 or Unix seconds (default now)
    #[arg(long, conflicts_with = "range")]
    pub time: Option<String>,
    /// Make it a range query over this long (`1h`, `30m`), ending at --end
    #[arg(long)]
    pub range: Option<String>,
    /// Resolution of a range query (default: the range over 250 points, at least 1s)
    #[arg(long, requires = "range")]
    pub step: Option<String>,
    /// End of a range query, Unix seconds (default now)
    #[arg(long, requires = "range")]
    pub end: Option<f64>,
    /// Print the API's JSON answer
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MetricsSeriesArgs {
    /// Series selectors (`http_requests_total{code="500"}`); none: every series
    pub selectors: Vec<String>,
    /// How far back to look (`15m`, `1h`, `7d`)
    #[arg(long, default_value = "1h")]
    pub since: String,
    /// Print the API's JSON answer
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The server's HTTP API (default: the configured `listen.http` on loopback)
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<String>,
    /// Bearer token, when the server requires one
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: LogsCommand,
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Search a running server's log index (tantivy query syntax)
    ///
    /// Prints one line per hit (time, service, severity, body), newest
    /// first, and the total count on stderr. Examples:
    /// `weir logs search 'service_name:checkout AND severity_text:ERROR' --since 15m`,
    /// `weir logs search '"connection refused"' --limit 20 --json`.
    Search(LogsSearchArgs),
    /// Print log records of a running server as they are indexed
    Tail {
        /// Only records matching this query (tantivy syntax)
        query: Option<String>,
        /// One JSON document per line
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the log index from the start of otlp_logs (offline: refused while a server runs)
    Reindex,
}

#[derive(Debug, Args)]
pub struct LogsSearchArgs {
    /// The query; `*` matches everything
    pub query: String,
    /// How far back to search (`15m`, `1h`, `7d`), unless --start is given
    #[arg(long, default_value = "1h")]
    pub since: String,
    /// Start of the range: RFC 3339 or Unix seconds or nanoseconds
    #[arg(long)]
    pub start: Option<String>,
    /// End of the range (default now)
    #[arg(long)]
    pub end: Option<String>,
    /// Most hits to print
    #[arg(long, short = 'n', default_value_t = 100)]
    pub limit: usize,
    /// Oldest hits first
    #[arg(long)]
    pub oldest_first: bool,
    /// One JSON document per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Append throughput and acknowledgement latency of the log against a raw-file baseline
    Log(LogBenchArgs),
    /// Log indexing end to end (OTLP in -> searchable) against raw tantivy, and query latency
    Logs(LogsBenchArgs),
    /// Metric points into windows end to end against the decode floor, PromQL over a day, VictoriaMetrics beside
    Metrics(MetricsBenchArgs),
}

/// Where settings come from; shared by every command.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Configuration file (TOML); without it every setting has its default
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Data dir, overriding `data_dir` of the configuration file
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: LogCommand,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// List topics: partitions, cleanup policy, bytes on disk, records
    Topics,
    /// Show a topic's settings and its partitions
    Describe {
        /// Topic name
        topic: String,
    },
    /// Append stdin to a topic, one record per line; print each acknowledged offset
    ///
    /// Each line (without its trailing newline) is the value of one record,
    /// timestamped now, appended as its own batch and acknowledged once
    /// durable; its offset is then printed on its own line. The partition is
    /// `--partition` if given, else Kafka's murmur2 hash of `--key`, else
    /// the partition holding the fewest records when the command starts; it
    /// is named on stderr. A missing topic is created with the configured
    /// topic defaults (the telemetry settings for the otlp_* topics).
    Produce {
        /// Topic name; created with the topic defaults if missing
        topic: String,
        /// Key of every record
        #[arg(long, short = 'k')]
        key: Option<String>,
        /// Partition to append to
        #[arg(long, short = 'p')]
        partition: Option<u32>,
        /// Lines appended before the oldest must be acknowledged (1..=4096)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=4096))]
        in_flight: u16,
    },
    /// Print records of one partition
    ///
    /// Text output is one record per line: offset, timestamp (RFC 3339),
    /// key, headers and value. Keys, header values and values that are valid
    /// UTF-8 print as escaped strings, others as `base64:...`. With `--json`,
    /// one JSON object per line; bytes that are not UTF-8 become
    /// `{"base64": "..."}`.
    Dump {
        /// Topic name
        topic: String,
        /// Partition to read
        #[arg(long, short = 'p', default_value_t = 0)]
        partition: u32,
        /// First offset to print (default: the log start)
        #[arg(long)]
        from: Option<u64>,
        /// Print at most this many records
        #[arg(long, short = 'n')]
        limit: Option<u64>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Verify every batch and index; exit 1 if problems remain
    Check {
        /// Truncate segments at their first invalid batch and rewrite bad indexes
        #[arg(long)]
        repair: bool,
    },
}
