//! `weir silences add|list|expire`, through the Alertmanager-compatible
//! silence API of a running server.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use alerting::matcher::{ApiMatcher, Matcher};
use alerting::silence::PostableSilence;
use alerting::time::{format_rfc3339, parse_rfc3339, system_ms};
use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::Value;

use super::call;
use crate::cli::{ServerArgs, SilenceAddArgs};

pub fn add(args: &ServerArgs, add: &SilenceAddArgs) -> anyhow::Result<ExitCode> {
    if add.matchers.is_empty() {
        bail!("a silence needs at least one matcher, such as 'alertname=\"DiskFull\"'");
    }
    let mut matchers = Vec::new();
    for text in &add.matchers {
        let parsed = Matcher::parse_list(text).with_context(|| format!("matcher {text:?}"))?;
        matchers.extend(parsed.iter().map(ApiMatcher::from));
    }
    let now = system_ms(SystemTime::now());
    let starts = match &add.start {
        Some(text) => parse_rfc3339(text).map_err(|e| anyhow::anyhow!("--start: {e}"))?,
        None => now,
    };
    let ends = match (&add.end, &add.duration) {
        (Some(text), _) => parse_rfc3339(text).map_err(|e| anyhow::anyhow!("--end: {e}"))?,
        (None, text) => {
            let duration: Duration =
                humantime::parse_duration(text).with_context(|| format!("--duration {text:?}"))?;
            starts.saturating_add(duration.as_millis() as i64)
        }
    };
    let author = add
        .author
        .clone()
        .unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "weir".to_owned()));
    let silence = PostableSilence {
        id: None,
        matchers,
        starts_at: format_rfc3339(starts),
        ends_at: format_rfc3339(ends),
        created_by: author,
        comment: add.comment.clone(),
    };
    let body = serde_json::to_value(&silence)?;
    let answer = call(args, Method::POST, "/api/v2/silences", Some(&body))?;
    println!("{}", answer["silenceID"].as_str().unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

pub fn list(args: &ServerArgs, filter: &[String], json: bool) -> anyhow::Result<ExitCode> {
    let query: Vec<String> = filter
        .iter()
        .map(|f| {
            format!(
                "filter={}",
                form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
            )
        })
        .collect();
    let path = if query.is_empty() {
        "/api/v2/silences".to_owned()
    } else {
        format!("/api/v2/silences?{}", query.join("&"))
    };
    let answer = call(args, Method::GET, &path, None)?;
    let silences = answer.as_array().cloned().unwrap_or_default();
    for silence in &silences {
        if json {
            println!("{silence}");
        } else {
            println!("{}", line(silence));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn expire(args: &ServerArgs, ids: &[String]) -> anyhow::Result<ExitCode> {
    for id in ids {
        let path = format!("/api/v2/silence/{id}");
        call(args, Method::DELETE, &path, None)?;
        eprintln!("expired {id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// id, state, until, matchers, by, comment.
fn line(silence: &Value) -> String {
    let matchers: Vec<String> = silence["matchers"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let op = match (m["isEqual"].as_bool(), m["isRegex"].as_bool()) {
                        (Some(false), Some(true)) => "!~",
                        (Some(false), _) => "!=",
                        (_, Some(true)) => "=~",
                        _ => "=",
                    };
                    let name = m["name"].as_str().unwrap_or_default();
                    let value = m["value"].as_str().unwrap_or_default();
                    format!("{name}{op}{value:?}")
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{}  {:<8} until {}  {{{}}}  by {}: {}",
        silence["id"].as_str().unwrap_or("?"),
        silence["status"]["state"].as_str().unwrap_or("?"),
        silence["endsAt"].as_str().unwrap_or("?"),
        matchers.join(", "),
        silence["createdBy"].as_str().unwrap_or("?"),
        silence["comment"].as_str().unwrap_or(""),
    )
}
