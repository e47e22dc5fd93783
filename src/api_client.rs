//! The HTTP client side of the CLI commands that query a running server
//! (`weir logs search`, `weir metrics ...`, `weir alerts ...`): one
//! request, its JSON answer.

use anyhow::Context;
use serde_json::Value;

/// POSTs `form` to `url`, with `token` as a bearer token when given;
/// returns the status and the JSON body.
pub fn post_form(
    url: &str,
    token: Option<&str>,
    form: &[(&str, String)],
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, body) = runtime.block_on(async {
        let mut request = reqwest::Client::new().post(url).form(form);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}; is `weir serve` running?"))?;
        let status = response.status();
        let body = response.text().await.context("read the answer")?;
        anyhow::Ok((status, body))
    })?;
    let answer: Value = serde_json::from_str(&body)
        .with_context(|| format!("{url} answered {status} with a body that is not JSON"))?;
    Ok((status, answer))
}

/// Sends `method` to `url` with an optional JSON `body`; returns the status
/// and the answer, JSON when it parses, else the text as a JSON string.
pub fn request_json(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, text) = runtime.block_on(async {
        let mut request = reqwest::Client::new().request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}; is `weir serve` running?"))?;
        let status = response.status();
        let text = response.text().await.context("read the answer")?;
        anyhow::Ok((status, text))
    })?;
    let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, answer))
}

/// A label set of an answer (`{"job": "api", ...}`) as PromQL writes one:
/// `{job="api", ...}`.
pub fn labels_text(labels: &Value) -> String {
    let pairs: Vec<String> = labels
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(n, v)| format!("{n}={:?}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!("{{{}}}", pairs.join(", "))
}
