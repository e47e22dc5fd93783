//! Decoded blocks kept for queries, least recently used first out, within
//! a byte budget.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::Decoded;

#[derive(Debug)]
pub(crate) struct BlockCache {
    budget: usize,
    used: usize,
    tick: u64,
    entries: HashMap<PathBuf, Entry>,
}

#[derive(Debug)]
struct Entry {
    block: Arc<Decoded>,
    bytes: usize,
    used_at: u64,
}

impl BlockCache {
    pub fn new(budget: usize) -> BlockCache {
        BlockCache {
            budget,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
        }
    }

    pub fn get(&mut self, path: &Path) -> Option<Arc<Decoded>> {
        self.tick += 1;
        let entry = self.entries.get_mut(path)?;
        entry.used_at = self.tick;
        Some(Arc::clone(&entry.block))
    }

    /// Keeps `block`, evicting the least recently used until it fits. A
    /// block larger than the whole budget is not kept.
    pub fn insert(&mut self, path: PathBuf, block: Arc<Decoded>) {
        let bytes = decoded_bytes(&block);
        if bytes > self.budget {
            return;
        }
        self.remove(&path);
        while self.used + bytes > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used_at)
                .map(|(p, _)| p.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
        self.tick += 1;
        self.used += bytes;
        self.entries.insert(
            path,
            Entry {
                block,
                bytes,
                used_at: self.tick,
            },
        );
    }

    pub fn remove(&mut self, path: &Path) {
        if let Some(entry) = self.entries.remove(path) {
            self.used -= entry.bytes;
        }
    }

    pub fn used_bytes(&self) -> usize {
        self.used
    }
}

/// An estimate of the memory a decoded block holds.
pub(crate) fn decoded_bytes(block: &Decoded) -> usize {
    let runs: usize = block
        .runs
        .iter()
        .map(|run| {
            let labels: usize = run
                .key
                .labels
                .iter()
                .map(|(n, v)| n.len() + v.len() + 48)
                .sum();
            160 + labels + run.windows.bytes()
        })
        .sum();
    let postings: usize = block
        .postings
        .iter()
        .map(|(t, n, v, ids)| t.len() + n.len() + v.len() + 96 + ids.len() * 4)
        .sum();
    runs + postings
}
