//! A worker's checkpoint: the next offset together with every open window
//! and every series' state, so a restart resumes exactly where the
//! checkpoint was taken.
//!
//! File `p<P>.checkpoint`: the bytes `WEIRMCK1`, then a zstd frame of the
//! postcard encoding of [`Saved`]; written to a temporary file, fsync'd
//! and renamed over the old one. A checkpoint that does not decode is an
//! error naming the file: the worker does not start rather than silently
//! double count (delete the file to rebuild the windows from the log).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::PartitionState;
use super::series::{Cumulative, PreviousBuckets, SeriesState, Slot};
use super::tiers::OpenWindows;
use crate::error::{AggregatorError, Result};
use crate::labels::Labels;
use crate::metrics::cardinality::Cardinality;
use crate::metrics::distribution::Distribution;
use crate::metrics::source::WindowValue;
use crate::metrics::window::{Accumulator, SeriesKey, SeriesKind};

const MAGIC: &[u8; 8] = b"WEIRMCK1";

/// Largest decoded checkpoint read: far above what the cardinality limits
/// let a partition hold, small enough that a corrupt length cannot
/// exhaust memory.
const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

type SavedWindows<T> = Vec<(i64, Vec<(Slot, T)>)>;

fn decompress(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut raw = Vec::new();
    zstd::stream::Decoder::new(body)?
        .take(MAX_CHECKPOINT_BYTES + 1)
        .read_to_end(&mut raw)?;
    if raw.len() as u64 > MAX_CHECKPOINT_BYTES {
        return Err(std::io::Error::other("larger than 4 GiB decoded"));
    }
    Ok(raw)
}

#[derive(Serialize, Deserialize)]
struct Saved {
    next_offset: u64,
    tiers_ms: Vec<i64>,
    watermark_ms: i64,
    closed_through_ms: i64,
    series: Vec<SavedSeries>,
    open: SavedWindows<SavedAccumulator>,
    coarse: Vec<SavedWindows<SavedValue>>,
}

#[derive(Serialize, Deserialize)]
struct SavedSeries {
    slot: Slot,
    tenant: String,
    labels: Vec<(String, String)>,
    kind: u8,
    hashes: Vec<u128>,
    cumulative: Option<Cumulative>,
    buckets: Option<PreviousBuckets>,
    total: f64,
    last_seen_ms: i64,
}

#[derive(Serialize, Deserialize)]
enum SavedAccumulator {
    Gauge(u64, f64, f64, f64, f64, u64),
    Counter(f64, Option<(u64, f64)>),
    Histogram(u64, f64, Vec<u8>),
}

#[derive(Serialize, Deserialize)]
enum SavedValue {
    Gauge(u64, f64, f64, f64, f64),
    Counter(f64, f64),
    Histogram(u64, f64, Vec<u8>),
}

fn corrupt(path: &Path, what: impl std::fmt::Display) -> AggregatorError {
    AggregatorError::Corruption {
        what: format!("metric checkpoint {}", path.display()),
        detail: format!("{what}; delete it to rebuild the windows from the log"),
    }
}

/// Restores `state` from the checkpoint at `path`; returns its next
/// offset, or 0 when there is none.
pub(super) fn restore(
    path: &Path,
    state: &mut PartitionState,
    cardinality: &Cardinality,
) -> Result<u64> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(AggregatorError::io(format!("read {}", path.display()), e)),
    };
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| corrupt(path, "not a checkpoint (bad magic)"))?;
    let raw = decompress(body).map_err(|e| corrupt(path, e))?;
    let saved: Saved = postcard::from_bytes(&raw).map_err(|e| corrupt(path, e))?;
    if saved.tiers_ms != state.tiers.lengths {
        return Err(corrupt(
            path,
            format!(
                "it was taken with window tiers {:?} ms, the configuration now says {:?} ms",
                saved.tiers_ms, state.tiers.lengths
            ),
        ));
    }
    let mut slots: HashMap<Slot, Slot> = HashMap::new();
    for series in saved.series {
        let kind = SeriesKind::from_code(series.kind)
            .ok_or_else(|| corrupt(path, "unknown series kind"))?;
        let key = Arc::new(SeriesKey {
            tenant: series.tenant,
            labels: Labels::new(series.labels),
            kind,
        });
        cardinality.restore(&key.tenant, key.name());
        let slot = state.series.insert(SeriesState {
            key,
            hashes: series.hashes,
            cumulative: series.cumulative,
            buckets: series.buckets,
            total: series.total,
            last_seen_ms: series.last_seen_ms,
        });
        slots.insert(series.slot, slot);
    }
    let slot_of = |old: Slot| {
        slots
            .get(&old)
            .copied()
            .ok_or_else(|| corrupt(path, "a window names an unknown series"))
    };
    for (end, windows) in saved.open {
        let open = state.tiers.open.entry(end).or_default();
        for (slot, saved) in windows {
            open.insert(
                slot_of(slot)?,
                accumulator(saved).map_err(|e| corrupt(path, e))?,
            );
        }
    }
    for (tier, saved_tier) in saved.coarse.into_iter().enumerate() {
        let Some(open) = state.tiers.coarse.get_mut(tier) else {
            break;
        };
        for (end, windows) in saved_tier {
            let open = open.entry(end).or_default();
            for (slot, saved) in windows {
                open.insert(slot_of(slot)?, value(saved).map_err(|e| corrupt(path, e))?);
            }
        }
    }
    state.tiers.watermark_ms = saved.watermark_ms;
    state.tiers.closed_through_ms = saved.closed_through_ms;
    Ok(saved.next_offset)
}

/// Writes the checkpoint of `state` at `next_offset`, durably.
pub(super) fn write(path: &Path, next_offset: u64, state: &PartitionState) -> Result<()> {
    let saved = Saved {
        next_offset,
        tiers_ms: state.tiers.lengths.clone(),
        watermark_ms: state.tiers.watermark_ms,
        closed_through_ms: state.tiers.closed_through_ms,
        series: state
            .series
            .iter()
            .map(|(slot, s)| SavedSeries {
                slot,
                tenant: s.key.tenant.clone(),
                labels: s.key.labels.clone().into_pairs(),
                kind: s.key.kind.code(),
                hashes: s.hashes.clone(),
                cumulative: s.cumulative,
                buckets: s.buckets.clone(),
                total: s.total,
                last_seen_ms: s.last_seen_ms,
            })
            .collect(),
        open: save_windows(&state.tiers.open, save_accumulator),
        coarse: state
            .tiers
            .coarse
            .iter()
            .map(|tier| save_windows(tier, save_value))
            .collect(),
    };
    let raw = postcard::to_stdvec(&saved).map_err(|e| corrupt(path, e))?;
    let mut bytes = MAGIC.to_vec();
    let compressed = zstd::encode_all(raw.as_slice(), 1)
        .map_err(|e| AggregatorError::io("compress a metric checkpoint", e))?;
    bytes.extend(compressed);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| AggregatorError::io(format!("create {}", dir.display()), e))?;
    }
    log_core::fsutil::write_atomic(path, &bytes)?;
    Ok(())
}

fn save_windows<T, S>(open: &OpenWindows<T>, save: impl Fn(&T) -> S) -> SavedWindows<S> {
    open.iter()
        .map(|(end, windows)| {
            let mut saved: Vec<(Slot, S)> =
                windows.iter().map(|(slot, w)| (*slot, save(w))).collect();
            saved.sort_by_key(|(slot, _)| *slot);
            (*end, saved)
        })
        .collect()
}

fn encode(distribution: &Distribution) -> Vec<u8> {
    let mut bytes = Vec::new();
    distribution.encode(&mut bytes);
    bytes
}

fn save_accumulator(accumulator: &Accumulator) -> SavedAccumulator {
    match accumulator {
        Accumulator::Gauge {
            count,
            sum,
            min,
            max,
            last,
            last_nanos,
        } => SavedAccumulator::Gauge(*count, *sum, *min, *max, *last, *last_nanos),
        Accumulator::Counter { delta, reported } => SavedAccumulator::Counter(*delta, *reported),
        Accumulator::Histogram {
            count,
            sum,
            distribution,
        } => SavedAccumulator::Histogram(*count, *sum, encode(distribution)),
    }
}

fn accumulator(saved: SavedAccumulator) -> std::result::Result<Accumulator, String> {
    Ok(match saved {
        SavedAccumulator::Gauge(count, sum, min, max, last, last_nanos) => Accumulator::Gauge {
            count,
            sum,
            min,
            max,
            last,
            last_nanos,
        },
        SavedAccumulator::Counter(delta, reported) => Accumulator::Counter { delta, reported },
        SavedAccumulator::Histogram(count, sum, bytes) => Accumulator::Histogram {
            count,
            sum,
            distribution: Distribution::decode(&bytes)?,
        },
    })
}

fn save_value(value: &WindowValue) -> SavedValue {
    match value {
        WindowValue::Gauge {
            count,
            sum,
            min,
            max,
            last,
        } => SavedValue::Gauge(*count, *sum, *min, *max, *last),
        WindowValue::Counter { delta, total } => SavedValue::Counter(*delta, *total),
        WindowValue::Histogram {
            count,
            sum,
            distribution,
        } => SavedValue::Histogram(*count, *sum, encode(distribution)),
    }
}

fn value(saved: SavedValue) -> std::result::Result<WindowValue, String> {
    Ok(match saved {
        SavedValue::Gauge(count, sum, min, max, last) => WindowValue::Gauge {
            count,
            sum,
            min,
            max,
            last,
        },
        SavedValue::Counter(delta, total) => WindowValue::Counter { delta, total },
        SavedValue::Histogram(count, sum, bytes) => WindowValue::Histogram {
            count,
            sum,
            distribution: Arc::new(Distribution::decode(&bytes)?),
        },
    })
}
