//! The labels of one log entry while it runs through a pipeline, each
//! remembering where it came from: the stream, structured metadata, or a
//! parser stage (Loki's label categories).
//!
//! Naming rules, as in Loki:
//! - an extracted (parsed) label whose name a stream label already has is
//!   renamed `<name>_extracted`; structured metadata gets the same rule;
//! - a later extraction of a name that is not a stream label overwrites it;
//! - `__error__` and `__error_details__` are ordinary parsed labels, which
//!   `| __error__ = ""` can filter on and `| drop __error__` can remove;
//! - empty values are not stored, so an empty value and a missing label
//!   read the same (as everywhere in [`Labels`]).

use std::collections::BTreeMap;

use crate::labels::Labels;

pub(crate) const ERROR_LABEL: &str = "__error__";
pub(crate) const ERROR_DETAILS_LABEL: &str = "__error_details__";
const DUPLICATE_SUFFIX: &str = "_extracted";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Stream,
    Metadata,
    Parsed,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct EntryLabels {
    map: BTreeMap<String, (String, Origin)>,
}

impl EntryLabels {
    pub(crate) fn new(stream: &Labels, metadata: &Labels) -> EntryLabels {
        let mut map: BTreeMap<String, (String, Origin)> = stream
            .iter()
            .map(|(n, v)| (n.to_owned(), (v.to_owned(), Origin::Stream)))
            .collect();
        for (name, value) in metadata.iter() {
            let name = if map.contains_key(name) {
                format!("{name}{DUPLICATE_SUFFIX}")
            } else {
                name.to_owned()
            };
            map.insert(name, (value.to_owned(), Origin::Metadata));
        }
        EntryLabels { map }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|(value, _)| value.as_str())
    }

    pub(crate) fn has_error(&self) -> bool {
        self.map.contains_key(ERROR_LABEL)
    }

    /// Marks the entry as failed by a stage; the first error is kept.
    pub(crate) fn set_error(&mut self, error: &str, details: String) {
        if self.has_error() {
            return;
        }
        self.insert(ERROR_LABEL.to_owned(), error.to_owned(), Origin::Parsed);
        self.insert(ERROR_DETAILS_LABEL.to_owned(), details, Origin::Parsed);
    }

    /// Adds a label found by a parser stage.
    pub(crate) fn extract(&mut self, name: String, value: String) {
        let name = match self.map.get(&name) {
            Some((_, Origin::Stream)) => format!("{name}{DUPLICATE_SUFFIX}"),
            _ => name,
        };
        self.insert(name, value, Origin::Parsed);
    }

    fn insert(&mut self, name: String, value: String, origin: Origin) {
        if value.is_empty() {
            self.map.remove(&name);
        } else {
            self.map.insert(name, (value, origin));
        }
    }

    /// Keeps the labels `keep(name, value)` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.map.retain(|name, (value, _)| keep(name, value));
    }

    /// Stream labels and extracted labels: what a log stream is keyed by.
    pub(crate) fn stream_labels(&self) -> Labels {
        self.collect(|origin| origin != Origin::Metadata)
    }

    /// Structured metadata still present after the pipeline.
    pub(crate) fn metadata(&self) -> Labels {
        self.collect(|origin| origin == Origin::Metadata)
    }

    /// Every label: what a metric series is keyed by.
    pub(crate) fn all(&self) -> Labels {
        self.collect(|_| true)
    }

    /// Removes one label, returning its value.
    pub(crate) fn remove(&mut self, name: &str) -> Option<String> {
        self.map.remove(name).map(|(value, _)| value)
    }

    fn collect(&self, wanted: impl Fn(Origin) -> bool) -> Labels {
        Labels::new(
            self.map
                .iter()
                .filter(|(_, (_, origin))| wanted(*origin))
                .map(|(name, (value, _))| (name.clone(), value.clone())),
        )
    }
}
