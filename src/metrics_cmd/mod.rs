//! `weir metrics ...`: PromQL from the command line, as a client of a
//! running server's Prometheus-compatible API (`--server`, default: the
//! configured `listen.http` on loopback).
//!
//! # Layout
//! - [`query`]: `query`, instant or range, and how results print.
//! - [`series`]: `series`, the label sets matching selectors.

pub mod query;
pub mod series;

use std::process::ExitCode;

use anyhow::bail;
use serde_json::Value;

use crate::cli::{MetricsArgs, MetricsCommand};
use crate::config::Settings;
use crate::diagnostics;
use crate::logs_cmd::loopback;

/// Runs one `weir metrics` command.
pub fn run(args: MetricsArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(
        args.config.config.as_deref(),
        args.config.data_dir.as_deref(),
    )?;
    diagnostics::init_tracing("warn");
    let server = args
        .server
        .unwrap_or_else(|| format!("http://{}", loopback(settings.listen.http)));
    let server = server.trim_end_matches('/');
    let token = args.token.as_deref();
    match args.command {
        MetricsCommand::Query(query) => query::run(server, token, &query),
        MetricsCommand::Series(series) => series::run(server, token, &series),
    }
}

/// Posts `form` to `server` + `path`; the `data` of a successful answer,
/// else the API's error as the error.
fn call(
    server: &str,
    path: &str,
    token: Option<&str>,
    form: &[(&str, String)],
) -> anyhow::Result<Value> {
    let url = format!("{server}{path}");
    let (status, answer) = crate::api_client::post_form(&url, token, form)?;
    if !status.is_success() || answer["status"] != "success" {
        bail!(
            "{} ({status}): {}",
            answer["errorType"].as_str().unwrap_or("error"),
            answer["error"].as_str().unwrap_or("the request failed")
        );
    }
    Ok(answer)
}
