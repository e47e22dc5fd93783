//! VictoriaMetrics ingesting the run's series by remote write.
//!
//! The first `--victoria-points` (default: the pipeline's points, at most
//! 2 M) of the run's requests are converted to remote write before the
//! clock starts, as Prometheus' view of the same OTLP points: a number
//! point is one sample, an explicit-bucket histogram point is one sample
//! per bucket (`_bucket{le}`, cumulative) plus `_count` and `_sum`. They
//! are sent with the same concurrency to a `victoria-metrics` child on
//! loopback; the phase ends when every request is answered and the
//! server's `vm_rows_inserted_total` counts every sample.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aggregator::labels::label_name;
use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use prost::Message;

use super::MetricsBenchArgs;
use super::requests::Requests;
use crate::bench::remote_write::{self, Label, Sample, TimeSeries, WriteRequest};
use crate::bench::report::{latency_histogram, millis, thousands};

const DEFAULT_BINARY: &str = "/usr/bin/victoria-metrics";
/// The default cap of points sent, so the converted bodies stay a few
/// hundred MiB.
const DEFAULT_MAX_POINTS: u64 = 2_000_000;

/// The binary to run: `--victoria`, else the Debian package's.
pub(super) fn binary(given: Option<&Path>) -> Option<PathBuf> {
    match given {
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(DEFAULT_BINARY)).filter(|p| p.exists()),
    }
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) struct VictoriaRun {
    pub points: u64,
    pub samples: u64,
    pub seconds: f64,
    pub latency: Histogram<u64>,
}

impl VictoriaRun {
    pub fn points_per_sec(&self) -> f64 {
        self.points as f64 / self.seconds
    }

    pub fn print(&self) {
        println!(
            "victoria-metrics: {} points/s = {} samples/s by remote write ({} points, {} samples, {:.2} s); \
             request latency p50 {:.2} ms, p99 {:.2} ms",
            thousands(self.points_per_sec() as u64),
            thousands((self.samples as f64 / self.seconds) as u64),
            thousands(self.points),
            thousands(self.samples),
            self.seconds,
            millis(&self.latency, 0.5),
            millis(&self.latency, 0.99),
        );
    }
}

fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn labels(resource: &[Label], attributes: &[KeyValue], name: &str) -> Vec<Label> {
    let mut all: Vec<Label> = resource.to_vec();
    all.extend(attributes.iter().map(|kv| Label {
        name: label_name(&kv.key),
        value: text(kv),
    }));
    all.push(Label {
        name: "__name__".to_owned(),
        value: name.to_owned(),
    });
    all.retain(|l| !l.value.is_empty());
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all.dedup_by(|a, b| a.name == b.name);
    all
}

fn one(labels: Vec<Label>, value: f64, nanos: u64) -> TimeSeries {
    TimeSeries {
        labels,
        samples: vec![Sample {
            value,
            timestamp: (nanos / 1_000_000) as i64,
        }],
    }
}

/// An OTLP request as Prometheus' remote write sees it.
pub(super) fn convert(request: &ExportMetricsServiceRequest) -> WriteRequest {
    let mut out = Vec::new();
    for rm in &request.resource_metrics {
        let resource: Vec<Label> = rm
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .map(|kv| Label {
                name: label_name(&kv.key),
                value: text(kv),
            })
            .collect();
        for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
            let name = label_name(&metric.name);
            let numbers = match &metric.data {
                Some(Data::Sum(s)) => &s.data_points,
                Some(Data::Gauge(g)) => &g.data_points,
                Some(Data::Histogram(h)) => {
                    for p in &h.data_points {
                        let mut cumulative = 0u64;
                        for (i, count) in p.bucket_counts.iter().enumerate() {
                            cumulative += count;
                            let le = p
                                .explicit_bounds
                                .get(i)
                                .map_or("+Inf".to_owned(), |b| b.to_string());
                            let mut l = labels(&resource, &p.attributes, &format!("{name}_bucket"));
                            l.push(Label {
                                name: "le".to_owned(),
                                value: le,
                            });
                            l.sort_by(|a, b| a.name.cmp(&b.name));
                            out.push(one(l, cumulative as f64, p.time_unix_nano));
                        }
                        let count = labels(&resource, &p.attributes, &format!("{name}_count"));
                        out.push(one(count, p.count as f64, p.time_unix_nano));
                        let sum = labels(&resource, &p.attributes, &format!("{name}_sum"));
                        out.push(one(sum, p.sum.unwrap_or(0.0), p.time_unix_nano));
                    }
                    continue;
                }
                _ => continue,
            };
            for p in numbers {
                let value = match p.value {
                    Some(Number::AsDouble(d)) => d,
                    Some(Number::AsInt(i)) => i as f64,
                    None => continue,
                };
                out.push(one(
                    labels(&resource, &p.attributes, &name),
                    value,
                    p.time_unix_nano,
                ));
            }
        }
    }
    WriteRequest { timeseries: out }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn rows_inserted(client: &reqwest::Client, base: &str) -> Result<u64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("vm_rows_inserted_total{type=\"promremotewrite\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

pub(super) fn run(
    runtime: &tokio::runtime::Runtime,
    args: &MetricsBenchArgs,
    requests: &Requests,
    binary: &Path,
) -> Result<VictoriaRun> {
    let limit = args
        .victoria_points
        .unwrap_or(args.points.min(DEFAULT_MAX_POINTS));
    let mut bodies = Vec::new();
    let (mut points, mut samples) = (0u64, 0u64);
    let mut i = 0;
    while points < limit && i < requests.count {
        let (bytes, n) = requests.render(i);
        let write = convert(&ExportMetricsServiceRequest::decode(bytes)?);
        samples += write.timeseries.len() as u64;
        points += n;
        bodies.push(remote_write::encode(&write));
        i += 1;
    }
    let dir = args.dir.join("victoria");
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("victoria.log"))?;
    let _child = Guard(
        Command::new(binary)
            .arg(format!("-storageDataPath={}", dir.join("data").display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-retentionPeriod=100y")
            .arg("-loggerLevel=ERROR")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?,
    );
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !runtime.block_on(async {
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }) {
        if Instant::now() > deadline {
            bail!("victoria-metrics did not answer /health within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = runtime.block_on(rows_inserted(&client, &base))?;
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/api/v1/write");
    let start = Instant::now();
    let senders: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (bodies, next, client, url) = (
                Arc::clone(&bodies),
                Arc::clone(&next),
                client.clone(),
                url.clone(),
            );
            runtime.spawn(async move {
                let mut latency = latency_histogram();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return anyhow::Ok(latency);
                    };
                    let sent = Instant::now();
                    remote_write::send(&client, &url, body.clone()).await?;
                    latency.saturating_record(sent.elapsed().as_micros() as u64);
                }
            })
        })
        .collect();
    let mut latency = latency_histogram();
    for sender in senders {
        latency
            .add(runtime.block_on(sender).context("sender task")??)
            .expect("same bounds");
    }
    loop {
        let inserted = runtime.block_on(rows_inserted(&client, &base))? - before;
        if inserted >= samples {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("victoria-metrics counted {inserted} of {samples} samples");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(VictoriaRun {
        points,
        samples,
        seconds: start.elapsed().as_secs_f64(),
        latency,
    })
}
