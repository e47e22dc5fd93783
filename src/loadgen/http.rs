//! OTLP/HTTP with binary protobuf: `POST {endpoint}/v1/{signal}` with
//! `Content-Type: application/x-protobuf`, optionally gzip-compressed
//! (`Content-Encoding: gzip`). Plain-text HTTP/1.1 with a keep-alive pool
//! of up to `--concurrency` connections, as OpenTelemetry SDK exporters
//! talk to port 4318.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Url};

use super::signal::Signal;
use super::transport::Failure;

const PROTOBUF: &str = "application/x-protobuf";
/// An export response is a few bytes (a partial success at most); more
/// than this is not an OTLP answer and is not read.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Connecting takes longer than this only when something is wrong.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct HttpSender {
    client: Client,
    url: Url,
    authorization: Option<HeaderValue>,
    gzip: bool,
}

impl HttpSender {
    /// Checks that `endpoint` accepts connections, then builds the client.
    pub async fn connect(
        endpoint: &Url,
        signal: Signal,
        gzip: bool,
        token: Option<&str>,
        timeout: Duration,
        concurrency: usize,
    ) -> Result<HttpSender> {
        let url = signal_url(endpoint, signal)?;
        let addrs = endpoint
            .socket_addrs(|| Some(4318))
            .with_context(|| format!("resolve {endpoint}"))?;
        let Some(&addr) = addrs.first() else {
            bail!("resolve {endpoint}: no address");
        };
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow::anyhow!("connect to {endpoint}: timed out"))?
            .with_context(|| format!("connect to {endpoint}"))?;
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(concurrency)
            .tcp_nodelay(true)
            .build()
            .context("build the http client")?;
        let authorization = token
            .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
            .transpose()
            .context("token: not valid in an http header")?;
        Ok(HttpSender {
            client,
            url,
            authorization,
            gzip,
        })
    }

    /// Sends one encoded request; returns the encoded response.
    pub async fn send(&self, body: Bytes) -> Result<Bytes, Failure> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, PROTOBUF);
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        request = if self.gzip {
            // Off the async workers: compressing a large request takes milliseconds.
            let compressed = tokio::task::spawn_blocking(move || gzip(&body))
                .await
                .map_err(|_| Failure::unanswered("gzip task failed".to_string()))?;
            request.header(CONTENT_ENCODING, "gzip").body(compressed)
        } else {
            request.body(body)
        };
        let mut response = request.send().await.map_err(|e| unanswered(&e))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unanswered(&e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Failure::answered("oversized response".to_string()));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            Ok(Bytes::from(body))
        } else {
            Err(Failure::answered(format!("HTTP {}", status.as_u16())))
        }
    }
}

/// `{endpoint}/v1/{signal}`, keeping any path prefix of the endpoint.
pub fn signal_url(endpoint: &Url, signal: Signal) -> Result<Url> {
    let base = endpoint.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}{}", signal.http_path()))
        .with_context(|| format!("endpoint {endpoint}: cannot append {}", signal.http_path()))
}

/// Gzip at the fastest level: the client's cost per request stays small
/// beside the server's, and the server's decompression work is the same.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    encoder.write_all(body).expect("write to memory");
    encoder.finish().expect("write to memory")
}

fn unanswered(error: &reqwest::Error) -> Failure {
    let label = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection refused or reset"
    } else {
        "request error"
    };
    Failure::unanswered(label.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_paths_keep_the_endpoint_prefix() {
        let plain = Url::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(
            signal_url(&plain, Signal::Logs).unwrap().as_str(),
            "http://127.0.0.1:4318/v1/logs"
        );
        let prefixed = Url::parse("http://collector:4318/otlp/").unwrap();
        assert_eq!(
            signal_url(&prefixed, Signal::Traces).unwrap().as_str(),
            "http://collector:4318/otlp/v1/traces"
        );
    }
}
