//! `weir logs tail [QUERY] [--json]`: prints documents as they are indexed,
//! until interrupted.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;

/// Largest server-sent event accepted; one log document is far smaller.
const MAX_EVENT_BYTES: usize = 16 << 20;

pub fn run(
    server: &str,
    token: Option<&str>,
    query: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let url = format!("{server}/api/v1/logs/tail");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .get(&url)
            .query(&[("query", query.unwrap_or(""))]);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let mut response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}; is `weir serve` running?"))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(body);
            bail!("{url} answered {status}: {message}");
        }
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.context("read the stream")? {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = find(&buffer, b"\n\n") {
                let event: Vec<u8> = buffer.drain(..end + 2).collect();
                print_event(&String::from_utf8_lossy(&event), json);
            }
            if buffer.len() > MAX_EVENT_BYTES {
                bail!("{url} sent an event larger than {MAX_EVENT_BYTES} bytes");
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn print_event(event: &str, json: bool) {
    let mut kind = "message";
    let mut data = String::new();
    for line in event.lines() {
        if let Some(rest) = line.strip_prefix("event:") {
            kind = rest.trim();
        } else if let Some(rest) = line.strip_prefix("data:") {
            data.push_str(rest.trim_start());
        }
    }
    match kind {
        "log" if json => println!("{data}"),
        "log" => match serde_json::from_str::<Value>(&data) {
            Ok(hit) => println!("{}", super::hit_line(&hit)),
            Err(_) => println!("{data}"),
        },
        "dropped" => eprintln!("({data} documents skipped: the tail fell behind)"),
        "error" => eprintln!("error: {data}"),
        _ => {}
    }
}
