//! `weir metrics series [MATCH...] [--since D] [--json]`.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::call;
use crate::api_client::labels_text;
use crate::cli::MetricsSeriesArgs;

/// Selects every series when no selector is given.
const EVERY_SERIES: &str = r#"{__name__=~".+"}"#;

pub fn run(
    server: &str,
    token: Option<&str>,
    args: &MetricsSeriesArgs,
) -> anyhow::Result<ExitCode> {
    let since = humantime::parse_duration(&args.since)
        .with_context(|| format!("--since {:?} is not a duration", args.since))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut form = vec![
        ("start", (now - since.as_secs_f64()).to_string()),
        ("end", now.to_string()),
    ];
    if args.selectors.is_empty() {
        form.push(("match[]", EVERY_SERIES.to_owned()));
    }
    for selector in &args.selectors {
        form.push(("match[]", selector.clone()));
    }
    let answer = call(server, "/api/v1/series", token, &form)?;
    let series = answer["data"].as_array().cloned().unwrap_or_default();
    for labels in &series {
        if args.json {
            println!("{labels}");
        } else {
            println!("{}", labels_text(labels));
        }
    }
    eprintln!("{} series", series.len());
    Ok(ExitCode::SUCCESS)
}
