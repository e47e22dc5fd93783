//! Prometheus remote write (version 1.0), the sending side: how the
//! metrics benchmark feeds VictoriaMetrics and the PromQL comparison test
//! feeds a real Prometheus the same samples Weir gets over OTLP.
//!
//! A request body is a `prometheus.WriteRequest` protobuf (only the
//! fields 1.0 requires: series of labels and float samples),
//! snappy-compressed in the block format, POSTed with
//! `Content-Encoding: snappy`, `Content-Type: application/x-protobuf` and
//! `X-Prometheus-Remote-Write-Version: 0.1.0`.

use anyhow::{Context, bail};

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, samples by time.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

impl TimeSeries {
    /// A series of `name` with `labels` (sorted here, `__name__` first as
    /// its name sorts first) and no samples yet.
    pub fn new(name: &str, labels: &[(&str, &str)]) -> TimeSeries {
        let mut all: Vec<Label> = labels
            .iter()
            .map(|(n, v)| Label {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
            })
            .collect();
        all.push(Label {
            name: "__name__".to_owned(),
            value: name.to_owned(),
        });
        all.sort_by(|a, b| a.name.cmp(&b.name));
        TimeSeries {
            labels: all,
            samples: Vec::new(),
        }
    }
}

/// The request body: the protobuf, snappy block-compressed.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    use prost::Message;
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .expect("snappy compresses any buffer that fits in memory")
}

/// POSTs an encoded body to a remote-write endpoint (`.../api/v1/write`).
pub async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<()> {
    let response = client
        .post(url)
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await
        .with_context(|| format!("remote write to {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        bail!("remote write to {url}: {status}: {}", text.trim());
    }
    Ok(())
}
