//! `weir alerts list`: the pending and firing alerts of a running server.

use std::process::ExitCode;

use reqwest::Method;

use super::call;
use crate::api_client::labels_text;
use crate::cli::ServerArgs;

pub fn list(args: &ServerArgs, json: bool) -> anyhow::Result<ExitCode> {
    let answer = call(args, Method::GET, "/api/v1/alerts", None)?;
    let alerts = answer["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if json {
        for alert in &alerts {
            println!("{alert}");
        }
    } else {
        for alert in &alerts {
            println!(
                "{:<8} {:<24} {} value={}",
                alert["state"].as_str().unwrap_or("?"),
                alert["activeAt"].as_str().unwrap_or("?"),
                labels_text(&alert["labels"]),
                alert["value"].as_str().unwrap_or("?"),
            );
        }
        eprintln!("{} alerts", alerts.len());
    }
    Ok(ExitCode::SUCCESS)
}
