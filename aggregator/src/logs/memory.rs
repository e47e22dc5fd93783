//! An in-memory [`LogSource`] for tests: entries in a `Vec`, selected by
//! linear scan. Other crates' tests (alerting, dashboards) reuse it.
//!
//! It honours everything a real source does: tenant, time range, matchers
//! over stream labels and metadata, required substrings, direction (a
//! stable sort, so equal timestamps keep insertion order) and the
//! deadline. It also records every [`LogSelect`] it was asked, so a test
//! can check what a query pushed down.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Mutex;

use crate::error::Result;
use crate::labels::{Labels, Matcher};
use crate::logs::source::{Direction, LogEntry, LogSelect, LogSource, SourceStats};
use crate::query::Deadline;

#[derive(Debug, Default)]
pub struct MemorySource {
    entries: Vec<(String, LogEntry)>,
    selects: Mutex<Vec<LogSelect>>,
}

impl MemorySource {
    pub fn new(entries: impl IntoIterator<Item = (String, LogEntry)>) -> MemorySource {
        MemorySource {
            entries: entries.into_iter().collect(),
            selects: Mutex::default(),
        }
    }

    pub fn push(&mut self, tenant: impl Into<String>, entry: LogEntry) {
        self.entries.push((tenant.into(), entry));
    }

    /// Every select asked so far, oldest first.
    pub fn selects(&self) -> Vec<LogSelect> {
        self.selects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn matching<'a>(
        &'a self,
        tenant: &'a str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &'a [Matcher],
    ) -> impl Iterator<Item = &'a LogEntry> + 'a {
        self.entries
            .iter()
            .filter(move |(t, e)| {
                t == tenant
                    && e.timestamp_nanos >= start_nanos
                    && e.timestamp_nanos < end_nanos
                    && matchers.iter().all(|m| {
                        let value = e.labels.get(&m.name).or_else(|| e.metadata.get(&m.name));
                        m.matches(value.unwrap_or(""))
                    })
            })
            .map(|(_, e)| e)
    }
}

impl LogSource for MemorySource {
    fn select(
        &self,
        select: &LogSelect,
        deadline: Deadline,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<()> {
        self.selects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(select.clone());
        let mut selected: Vec<&LogEntry> = self
            .matching(
                &select.tenant,
                select.start_nanos,
                select.end_nanos,
                &select.matchers,
            )
            .filter(|e| {
                select
                    .required_substrings
                    .iter()
                    .all(|s| e.line.contains(s.as_str()))
            })
            .collect();
        match select.direction {
            Direction::Forward => selected.sort_by_key(|e| e.timestamp_nanos),
            Direction::Backward => selected.sort_by_key(|e| std::cmp::Reverse(e.timestamp_nanos)),
        }
        for entry in selected {
            deadline.check()?;
            if visit(entry.clone()).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn label_names(&self, tenant: &str, start_nanos: i64, end_nanos: i64) -> Result<Vec<String>> {
        let names: BTreeSet<String> = self
            .matching(tenant, start_nanos, end_nanos, &[])
            .flat_map(|e| e.labels.iter().chain(e.metadata.iter()))
            .map(|(name, _)| name.to_owned())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        tenant: &str,
        name: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>> {
        let values: BTreeSet<String> = self
            .matching(tenant, start_nanos, end_nanos, matchers)
            .filter_map(|e| e.labels.get(name).or_else(|| e.metadata.get(name)))
            .map(str::to_owned)
            .collect();
        Ok(values.into_iter().collect())
    }

    fn series(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Labels>> {
        let series: BTreeSet<Labels> = self
            .matching(tenant, start_nanos, end_nanos, matchers)
            .map(|e| e.labels.clone())
            .collect();
        Ok(series.into_iter().collect())
    }

    fn stats(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<SourceStats> {
        let mut streams = BTreeSet::new();
        let mut stats = SourceStats::default();
        for entry in self.matching(tenant, start_nanos, end_nanos, matchers) {
            streams.insert(&entry.labels);
            stats.entries += 1;
            stats.bytes += entry.line.len() as u64;
        }
        stats.streams = streams.len() as u64;
        stats.chunks = u64::from(stats.entries > 0);
        Ok(stats)
    }
}
