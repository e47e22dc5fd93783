//! Template tests on realistic rule annotations: rendering, functions and
//! number formatting, and errors with their positions and limits.

mod errors;
mod functions;
mod render;

use super::{Template, TemplateData};
use crate::model::LabelSet;

pub fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Renders `source` with the alert labels of a down target.
pub fn render_with(source: &str, value: f64) -> Result<String, String> {
    let labels = labels(&[
        ("alertname", "InstanceDown"),
        ("instance", "db-1.example.com:9100"),
        ("job", "node"),
        ("severity", "critical"),
    ]);
    let external = labels_external();
    let data = TemplateData {
        labels: &labels,
        external_labels: &external,
        value,
        external_url: "https://weir.example.com/prefix",
    };
    let template = Template::parse("annotations.summary", source).map_err(|e| e.to_string())?;
    template.render(&data)
}

fn labels_external() -> LabelSet {
    labels(&[("cluster", "eu-1")])
}

pub fn render(source: &str) -> String {
    match render_with(source, 0.5) {
        Ok(s) => s,
        Err(e) => panic!("{source:?}: {e}"),
    }
}

pub fn parse_error(source: &str) -> String {
    match Template::parse("annotations.summary", source) {
        Ok(t) => panic!("{source:?} parsed: {t:?}"),
        Err(e) => e.to_string(),
    }
}
