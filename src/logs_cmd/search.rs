//! `weir logs search QUERY [--since D | --start T --end T] [--limit N]
//! [--oldest-first] [--json]`.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::LogsSearchArgs;

pub fn run(server: &str, token: Option<&str>, args: &LogsSearchArgs) -> anyhow::Result<ExitCode> {
    let mut form: Vec<(&str, String)> = vec![
        ("query", args.query.clone()),
        ("limit", args.limit.to_string()),
        (
            "order",
            if args.oldest_first { "asc" } else { "desc" }.to_owned(),
        ),
        ("since", args.since.clone()),
    ];
    if let Some(start) = &args.start {
        form.push(("start", start.clone()));
    }
    if let Some(end) = &args.end {
        form.push(("end", end.clone()));
    }
    let url = format!("{server}/api/v1/logs/search");
    let (status, answer) = crate::api_client::post_form(&url, token, &form)?;
    if !status.is_success() {
        bail!(
            "{}",
            answer["error"].as_str().unwrap_or("the search failed")
        );
    }
    let hits = answer["hits"].as_array().cloned().unwrap_or_default();
    for hit in &hits {
        if args.json {
            println!("{hit}");
        } else {
            println!("{}", super::hit_line(hit));
        }
    }
    eprintln!(
        "{} of {} hits in {:.1} ms",
        hits.len(),
        answer["num_hits"].as_u64().unwrap_or(0),
        answer["elapsed_time_micros"].as_u64().unwrap_or(0) as f64 / 1000.0
    );
    Ok(ExitCode::SUCCESS)
}
