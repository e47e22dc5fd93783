//! `weir metrics query PROMQL [--time T | --range D [--step D] [--end T]] [--json]`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::Value;

use super::call;
use crate::api_client::labels_text;
use crate::cli::MetricsQueryArgs;

/// Points a range query gets when no step is given (Grafana's default
/// resolution is of the same order).
const DEFAULT_POINTS: f64 = 250.0;

pub fn run(server: &str, token: Option<&str>, args: &MetricsQueryArgs) -> anyhow::Result<ExitCode> {
    let mut form = vec![("query", args.query.clone())];
    let path = match &args.range {
        None => {
            if let Some(time) = &args.time {
                form.push(("time", time.clone()));
            }
            "/api/v1/query"
        }
        Some(range) => {
            let range = humantime::parse_duration(range)
                .with_context(|| format!("--range {range:?} is not a duration"))?;
            let end = args.end.unwrap_or_else(now_seconds);
            let step = match &args.step {
                Some(step) => humantime::parse_duration(step)
                    .with_context(|| format!("--step {step:?} is not a duration"))?,
                None => {
                    Duration::from_secs_f64((range.as_secs_f64() / DEFAULT_POINTS).max(1.0).ceil())
                }
            };
            form.push(("start", (end - range.as_secs_f64()).to_string()));
            form.push(("end", end.to_string()));
            form.push(("step", step.as_secs_f64().to_string()));
            "/api/v1/query_range"
        }
    };
    let answer = call(server, path, token, &form)?;
    if args.json {
        println!("{answer}");
    } else {
        for line in render(&answer["data"]) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A Unix time in seconds as RFC 3339.
fn time_text(t: &Value) -> String {
    let seconds = t.as_f64().unwrap_or(0.0).max(0.0);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs_f64(seconds)).to_string()
}

/// The lines `query` prints for a query's `data`.
pub fn render(data: &Value) -> Vec<String> {
    let result = &data["result"];
    let value = |pair: &Value| pair[1].as_str().unwrap_or_default().to_owned();
    match data["resultType"].as_str() {
        Some("scalar" | "string") => vec![value(result)],
        Some("vector") => result
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| format!("{} {}", labels_text(&s["metric"]), value(&s["value"])))
            .collect(),
        Some("matrix") => {
            let mut lines = Vec::new();
            for s in result.as_array().into_iter().flatten() {
                lines.push(labels_text(&s["metric"]));
                for point in s["values"].as_array().into_iter().flatten() {
                    lines.push(format!("  {} {}", time_text(&point[0]), value(point)));
                }
            }
            lines
        }
        _ => vec![data.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::render;

    #[test]
    fn results_print_one_line_per_series_or_point() {
        let vector = json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "job": "api"}, "value": [1700000000, "1"]},
            {"metric": {}, "value": [1700000000, "NaN"]},
        ]});
        assert_eq!(
            render(&vector),
            [r#"{__name__="up", job="api"} 1"#, "{} NaN"]
        );
        let scalar = json!({"resultType": "scalar", "result": [1700000000, "2"]});
        assert_eq!(render(&scalar), ["2"]);
        let matrix = json!({"resultType": "matrix", "result": [
            {"metric": {"job": "api"}, "values": [[1700000000, "1"], [1700000060.5, "+Inf"]]},
        ]});
        assert_eq!(
            render(&matrix),
            [
                r#"{job="api"}"#,
                "  2023-11-14T22:13:20.000Z 1",
                "  2023-11-14T22:14:20.500Z +Inf",
            ]
        );
    }
}
