//! `weir alerts ...`, `weir silences ...` (clients of a running server's
//! alert API, `--server` defaulting to the configured `listen.http` on
//! loopback) and `weir rules check` (offline).
//!
//! # Layout
//! - [`alerts`]: `alerts list`.
//! - [`silences`]: `silences add|list|expire`.
//! - [`rules`]: `rules check FILE...`.

pub mod alerts;
pub mod rules;
pub mod silences;

use anyhow::bail;
use serde_json::Value;

use crate::cli::ServerArgs;
use crate::config::Settings;
use crate::logs_cmd::loopback;

/// The server's base URL.
fn server_url(args: &ServerArgs) -> anyhow::Result<String> {
    if let Some(server) = &args.server {
        return Ok(server.trim_end_matches('/').to_owned());
    }
    let settings = Settings::load(
        args.config.config.as_deref(),
        args.config.data_dir.as_deref(),
    )?;
    Ok(format!("http://{}", loopback(settings.listen.http)))
}

/// Calls the API; the answer of a 2xx, else its error as the error.
fn call(
    args: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", server_url(args)?);
    let (status, answer) =
        crate::api_client::request_json(method, &url, args.token.as_deref(), body)?;
    if !status.is_success() {
        let message = answer["error"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| answer.to_string());
        bail!("{url} answered {status}: {message}");
    }
    Ok(answer)
}
