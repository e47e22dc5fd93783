//! The web UI: plain HTML, CSS and ES modules of our own, embedded in the
//! binary (no build step, no third-party bundle), served at `/` and
//! `/ui/<file>`; and the two APIs only the UI needs: the pipeline status
//! (`/api/v1/status/pipeline`, from whatever the binary plugs in) and the
//! dashboard definitions (`/api/v1/dashboards`, from YAML files in a
//! configured directory plus the built-in `weir` dashboard).
//!
//! # Dashboard files
//! ```yaml
//! title: Checkout
//! panels:
//!   - title: Requests per second
//!     query: sum by (service_name) (rate(http_server_requests[5m]))
//!     language: promql        # or logql
//!     kind: chart             # or table
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

/// Largest dashboard file read; a dashboard is a few dozen lines.
const MAX_DASHBOARD_BYTES: u64 = 256 << 10;
/// Dashboard files read from the directory.
const MAX_DASHBOARDS: usize = 200;
/// Panels of one dashboard.
const MAX_PANELS: usize = 50;

/// The embedded files: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/chart.js"),
    ),
    (
        "logs.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/logs.js"),
    ),
    (
        "metrics.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/metrics.js"),
    ),
    (
        "alerts.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/alerts.js"),
    ),
    (
        "pipeline.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/pipeline.js"),
    ),
    (
        "boards.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/boards.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../assets/favicon.svg"),
    ),
];

/// The built-in self-monitoring dashboard.
const WEIR_DASHBOARD: &str = include_str!("../assets/weir-dashboard.yml");

/// What the pipeline page shows, assembled by the binary (which holds the
/// log, the index, the window store and the workers).
pub trait PipelineSource: Send + Sync + 'static {
    fn pipeline(&self) -> serde_json::Value;
}

/// Where the status route finds its source once the log is open.
pub type PipelineSlot = Arc<OnceLock<Arc<dyn PipelineSource>>>;

#[derive(Clone)]
struct UiState {
    pipeline: PipelineSlot,
    dashboards_dir: Option<PathBuf>,
}

/// One dashboard, as written in its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    #[serde(default)]
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub panels: Vec<Panel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub title: String,
    pub query: String,
    #[serde(default = "promql")]
    pub language: String,
    #[serde(default = "chart")]
    pub kind: String,
}

fn promql() -> String {
    "promql".to_owned()
}

fn chart() -> String {
    "chart".to_owned()
}

pub fn router(pipeline: PipelineSlot, dashboards_dir: Option<PathBuf>) -> Router {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/ui/{file}",
            get(|UrlPath(file): UrlPath<String>| async move { asset(&file) }),
        )
        .route("/favicon.ico", get(|| async { asset("favicon.svg") }))
        .route("/api/v1/status/pipeline", get(pipeline_status))
        .route("/api/v1/dashboards", get(dashboards))
        .with_state(UiState {
            pipeline,
            dashboards_dir,
        })
}

fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(file, ..)| *file == name) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                // Assets change with the binary; a reload picks them up.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("no such file: {name}\n")).into_response(),
    }
}

async fn pipeline_status(State(state): State<UiState>) -> Response {
    match state.pipeline.get() {
        Some(source) => {
            let source = Arc::clone(source);
            match tokio::task::spawn_blocking(move || source.pipeline()).await {
                Ok(value) => Json(value).into_response(),
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(serde_json::json!({"error": format!("status task failed: {e}")})),
                )
                    .into_response(),
            }
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "the log is still opening (recovery in progress)"})),
        )
            .into_response(),
    }
}

async fn dashboards(State(state): State<UiState>) -> Response {
    let dir = state.dashboards_dir.clone();
    let loaded = tokio::task::spawn_blocking(move || load_dashboards(dir.as_deref())).await;
    match loaded {
        Ok((boards, errors)) => {
            Json(serde_json::json!({"dashboards": boards, "errors": errors})).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": format!("dashboard task failed: {e}")})),
        )
            .into_response(),
    }
}

/// The built-in dashboard, then every `*.yml`/`*.yaml` of `dir` by file
/// name; files that do not parse are reported, not fatal.
pub fn load_dashboards(dir: Option<&Path>) -> (Vec<Dashboard>, Vec<String>) {
    let mut boards = Vec::new();
    let mut errors = Vec::new();
    match parse("weir", WEIR_DASHBOARD) {
        Ok(board) => boards.push(board),
        Err(e) => errors.push(e),
    }
    let Some(dir) = dir else {
        return (boards, errors);
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return (boards, errors);
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    for path in files.into_iter().take(MAX_DASHBOARDS) {
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::File::open(&path).and_then(|f| {
            use std::io::Read;
            let mut text = String::new();
            f.take(MAX_DASHBOARD_BYTES)
                .read_to_string(&mut text)
                .map(|_| text)
        });
        match text {
            Ok(text) => match parse(&id, &text) {
                Ok(board) => boards.push(board),
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            },
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    (boards, errors)
}

fn parse(id: &str, text: &str) -> Result<Dashboard, String> {
    let mut board: Dashboard = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if board.id.is_empty() {
        board.id = id.to_owned();
    }
    if board.panels.len() > MAX_PANELS {
        return Err(format!(
            "{} panels, at most {MAX_PANELS}",
            board.panels.len()
        ));
    }
    for (i, panel) in board.panels.iter().enumerate() {
        if !matches!(panel.language.as_str(), "promql" | "logql") {
            return Err(format!(
                "panels[{i}].language: {:?} is not promql or logql",
                panel.language
            ));
        }
        if !matches!(panel.kind.as_str(), "chart" | "table") {
            return Err(format!(
                "panels[{i}].kind: {:?} is not chart or table",
                panel.kind
            ));
        }
    }
    Ok(board)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_and_unknown_files_are_404() {
        for (name, ..) in ASSETS {
            assert_eq!(asset(name).status(), StatusCode::OK, "{name}");
        }
        assert_eq!(asset("../Cargo.toml").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn dashboards_load_from_a_directory_and_bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("checkout.yml"),
            "title: Checkout\npanels:\n  - title: Errors\n    query: 'sum(count_over_time({service_name=\"checkout\"}[1m]))'\n    language: logql\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("broken.yml"), "title: [").unwrap();
        std::fs::write(
            dir.path().join("wrong.yaml"),
            "title: W\npanels:\n  - {title: x, query: up, kind: pie}\n",
        )
        .unwrap();
        let (boards, errors) = load_dashboards(Some(dir.path()));
        let ids: Vec<&str> = boards.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["weir", "checkout"]);
        assert_eq!(boards[1].panels[0].language, "logql");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("kind")), "{errors:?}");
    }
}

#[cfg(test)]
mod grafana {
    use std::path::Path;

    /// The shipped Grafana files parse, point at Weir's HTTP port, and the
    /// dashboard only uses the data sources they provision.
    #[test]
    fn grafana_provisioning_matches_the_dashboard() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana");
        let sources: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(root.join("provisioning/datasources/weir.yml")).unwrap(),
        )
        .unwrap();
        let uids: Vec<&str> = sources["datasources"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|d| d["uid"].as_str().unwrap())
            .collect();
        assert_eq!(uids, ["weir-prometheus", "weir-loki"]);
        let providers: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(root.join("provisioning/dashboards/weir.yml")).unwrap(),
        )
        .unwrap();
        assert!(
            providers["providers"][0]["options"]["path"]
                .as_str()
                .is_some()
        );
        let board: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("dashboards/weir.json")).unwrap(),
        )
        .unwrap();
        let panels = board["panels"].as_array().unwrap();
        assert!(!panels.is_empty());
        for panel in panels {
            for target in panel["targets"].as_array().unwrap() {
                let uid = target["datasource"]["uid"].as_str().unwrap();
                assert!(uids.contains(&uid), "{} uses {uid}", panel["title"]);
                assert!(target["expr"].as_str().is_some_and(|e| !e.is_empty()));
            }
        }
    }
}
