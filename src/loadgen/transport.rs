//! The two OTLP transports behind one interface, and how their failures
//! are named in reports (`grpc Unavailable`, `HTTP 429`, `timeout`, ...).

use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use reqwest::Url;

use super::grpc::GrpcSender;
use super::http::HttpSender;
use super::signal::Signal;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC (default port 4317)
    Grpc,
    /// OTLP/HTTP with binary protobuf bodies (default port 4318)
    Http,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }

    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://127.0.0.1:4317",
            Protocol::Http => "http://127.0.0.1:4318",
        }
    }
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The gRPC code or HTTP status, or what went wrong without an answer.
    pub label: String,
    /// Whether the server answered; without an answer a sender pauses
    /// briefly so that a server that went away is not spun against.
    pub answered: bool,
}

impl Failure {
    pub fn answered(label: String) -> Failure {
        Failure {
            label,
            answered: true,
        }
    }

    pub fn unanswered(label: String) -> Failure {
        Failure {
            label,
            answered: false,
        }
    }
}

/// What every request goes through.
#[derive(Clone)]
pub struct Options<'a> {
    pub protocol: Protocol,
    pub endpoint: &'a Url,
    pub signal: Signal,
    pub gzip: bool,
    pub token: Option<&'a str>,
    pub timeout: Duration,
    pub concurrency: usize,
}

#[derive(Clone)]
pub enum Transport {
    Grpc(GrpcSender),
    Http(HttpSender),
}

impl Transport {
    /// Connects, failing if the endpoint cannot be reached at all.
    pub async fn connect(options: Options<'_>) -> Result<Transport> {
        Ok(match options.protocol {
            Protocol::Grpc => Transport::Grpc(
                GrpcSender::connect(
                    options.endpoint.as_str(),
                    options.signal,
                    options.gzip,
                    options.token,
                    options.timeout,
                )
                .await?,
            ),
            Protocol::Http => Transport::Http(
                HttpSender::connect(
                    options.endpoint,
                    options.signal,
                    options.gzip,
                    options.token,
                    options.timeout,
                    options.concurrency,
                )
                .await?,
            ),
        })
    }

    /// Sends one encoded request and returns the encoded response.
    pub async fn send(&self, body: Bytes) -> Result<Bytes, Failure> {
        match self {
            Transport::Grpc(sender) => sender.send(body).await,
            Transport::Http(sender) => sender.send(body).await,
        }
    }
}

/// Parses `--endpoint`: an absolute `http://` URL with a host. `https` is
/// refused: the binary is built without TLS.
pub fn parse_endpoint(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not an absolute URL: {e}"))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err("https is not supported (weir is built without TLS); use http://".into());
        }
        other => return Err(format!("unsupported scheme {other:?}; use http://")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a query or fragment is not allowed".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_plain_http_urls() {
        assert!(parse_endpoint("http://127.0.0.1:4317").is_ok());
        assert!(parse_endpoint("http://localhost:4318/otlp").is_ok());
        assert!(
            parse_endpoint("https://x:4317")
                .unwrap_err()
                .contains("TLS")
        );
        assert!(parse_endpoint("127.0.0.1:4317").is_err());
        assert!(parse_endpoint("ftp://x").unwrap_err().contains("scheme"));
    }
}
