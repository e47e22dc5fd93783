//! The rule file as written, before validation: Prometheus' `rulefmt`
//! fields with `deny_unknown_fields`, plus Weir's `language` and `tenant`
//! on a group. Strings that YAML may type (durations, label values,
//! `expr`) are read as [`Scalar`]s and checked by the loader, so their
//! errors can point at their own line.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::scalar::Scalar;
use crate::query::Language;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub interval: Scalar,
    #[serde(default)]
    pub query_offset: Scalar,
    #[serde(default)]
    pub limit: usize,
    #[serde(default)]
    pub labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub language: Option<Language>,
    #[serde(default)]
    pub tenant: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(default)]
    pub record: Scalar,
    #[serde(default)]
    pub alert: Scalar,
    #[serde(default)]
    pub expr: Scalar,
    #[serde(default, rename = "for")]
    pub hold: Scalar,
    #[serde(default)]
    pub keep_firing_for: Scalar,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, Scalar>>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, Scalar>>,
}
