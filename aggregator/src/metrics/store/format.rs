//! The window file: one tier's closed windows of many series, columnar and
//! zstd-compressed. Chunks and blocks ([`super`]) are both window files.
//!
//! # Layout
//! ```text
//! "WEIRMWS1"                                  magic, 8 bytes
//! u32 LE  section count (6)
//! per section: u64 LE decoded length, u64 LE stored length
//! the sections, each one zstd frame:
//!   series    postcard [(tenant, [(name, value)], kind, window count)], sorted
//!   postings  postcard [(tenant, name, value, [series index])], sorted
//!   ends      per series: first end (zigzag varint), then gaps (varints)
//!   counts    varint per gauge or histogram window (its point count)
//!   floats    f64 LE: gauge sum min max last, counter delta total,
//!             histogram sum; per window in series order
//!   dists     per histogram window: varint length, then the
//!             distribution's own encoding
//! u32 LE  CRC-32C of everything after the magic up to here
//! ```
//! Series are in label order, so a series' windows are found from the
//! window counts of the series before it; the postings (label pair →
//! series) are the file's label index. Splitting values into columns of
//! one kind each lets zstd see runs of similar numbers (a counter's
//! totals, regular window ends) next to each other.
//!
//! # Reading untrusted bytes
//! Every length is checked against [`MAX_SECTION_BYTES`] and against the
//! bytes present before anything is allocated; a file that does not
//! decode is reported as corrupt with what was wrong, never a panic.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Run;
use super::packed::{Packed, PackedRun};
use crate::labels::Labels;
use crate::metrics::distribution::Distribution;
use crate::metrics::source::WindowValue;
use crate::metrics::window::{SeriesKey, SeriesKind};

pub(crate) const MAGIC: &[u8; 8] = b"WEIRMWS1";

/// The most one decoded section may hold. A block holds at most a few
/// hundred windows of every series of a partition: far below this.
pub(crate) const MAX_SECTION_BYTES: u64 = 1 << 30;

/// zstd level for window files: level 3 is zstd's default, a good ratio
/// at a few hundred MB/s, and files are written in the background.
const ZSTD_LEVEL: i32 = 3;

const SECTIONS: usize = 6;

#[derive(Serialize, Deserialize)]
struct StoredSeries {
    tenant: String,
    labels: Vec<(String, String)>,
    kind: u8,
    windows: u32,
}

/// Series indexes per (tenant, label name, label value).
pub(crate) type Postings = Vec<(String, String, String, Vec<u32>)>;

/// A decoded window file.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub runs: Vec<PackedRun>,
    pub postings: Postings,
}

/// Encodes `runs` (sorted by key, each with windows ascending by end).
pub(crate) fn encode(runs: &[Run]) -> Vec<u8> {
    let mut series = Vec::with_capacity(runs.len());
    let mut ends = Vec::new();
    let mut counts = Vec::new();
    let mut floats = Vec::new();
    let mut dists = Vec::new();
    let mut postings: std::collections::BTreeMap<(&str, &str, &str), Vec<u32>> = Default::default();
    let mut scratch = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        series.push(StoredSeries {
            tenant: run.key.tenant.clone(),
            labels: run
                .key
                .labels
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            kind: run.key.kind.code(),
            windows: run.windows.len() as u32,
        });
        for (name, value) in run.key.labels.iter() {
            postings
                .entry((run.key.tenant.as_str(), name, value))
                .or_default()
                .push(index as u32);
        }
        let mut previous = None;
        for (end, value) in &run.windows {
            match previous {
                None => put_varint(&mut ends, zigzag(*end)),
                Some(p) => put_varint(&mut ends, (*end - p) as u64),
            }
            previous = Some(*end);
            put_value(value, &mut counts, &mut floats, &mut dists, &mut scratch);
        }
    }
    let postings: Postings = postings
        .into_iter()
        .map(|((t, n, v), ids)| (t.to_owned(), n.to_owned(), v.to_owned(), ids))
        .collect();
    let raw = [
        postcard::to_stdvec(&series).expect("postcard encodes plain structs"),
        postcard::to_stdvec(&postings).expect("postcard encodes plain structs"),
        ends,
        counts,
        floats,
        dists,
    ];
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(SECTIONS as u32).to_le_bytes());
    let compressed: Vec<Vec<u8>> = raw
        .iter()
        .map(|section| {
            zstd::bulk::compress(section, ZSTD_LEVEL).expect("zstd compresses into a Vec")
        })
        .collect();
    for (raw, stored) in raw.iter().zip(&compressed) {
        out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
        out.extend_from_slice(&(stored.len() as u64).to_le_bytes());
    }
    for stored in &compressed {
        out.extend_from_slice(stored);
    }
    let crc = crc32c::crc32c(&out[MAGIC.len()..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn put_value(
    value: &WindowValue,
    counts: &mut Vec<u8>,
    floats: &mut Vec<u8>,
    dists: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) {
    let mut float = |f: f64| floats.extend_from_slice(&f.to_le_bytes());
    match value {
        WindowValue::Gauge {
            count,
            sum,
            min,
            max,
            last,
        } => {
            put_varint(counts, *count);
            for f in [*sum, *min, *max, *last] {
                float(f);
            }
        }
        WindowValue::Counter { delta, total } => {
            float(*delta);
            float(*total);
        }
        WindowValue::Histogram {
            count,
            sum,
            distribution,
        } => {
            put_varint(counts, *count);
            float(*sum);
            scratch.clear();
            distribution.encode(scratch);
            put_varint(dists, scratch.len() as u64);
            dists.extend_from_slice(scratch);
        }
    }
}

/// Decodes a window file; the error says what is wrong with it.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or("not a window file (bad magic)")?;
    if body.len() < 4 + 4 {
        return Err(format!("{} bytes is too short", bytes.len()));
    }
    let (checked, crc) = body.split_at(body.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    if crc32c::crc32c(checked) != crc {
        return Err("crc mismatch".to_owned());
    }
    let mut reader = Reader(checked);
    let count = reader.u32()? as usize;
    if count != SECTIONS {
        return Err(format!("{count} sections, expected {SECTIONS}"));
    }
    let mut lengths = Vec::with_capacity(SECTIONS);
    for _ in 0..SECTIONS {
        let raw = reader.u64()?;
        let stored = reader.u64()?;
        if raw > MAX_SECTION_BYTES {
            return Err(format!("a section claims {raw} decoded bytes"));
        }
        lengths.push((raw as usize, stored));
    }
    let mut sections = Vec::with_capacity(SECTIONS);
    for (raw, stored) in lengths {
        let frame = reader.take(stored)?;
        let section = zstd::bulk::decompress(frame, raw).map_err(|e| format!("a section: {e}"))?;
        if section.len() != raw {
            return Err(format!(
                "a section decoded to {} bytes, its header says {raw}",
                section.len()
            ));
        }
        sections.push(section);
    }
    if !reader.0.is_empty() {
        return Err("bytes after the last section".to_owned());
    }
    let [series, postings, ends, counts, floats, dists]: [Vec<u8>; SECTIONS] =
        sections.try_into().expect("SECTIONS sections");
    let series: Vec<StoredSeries> =
        postcard::from_bytes(&series).map_err(|e| format!("the series table: {e}"))?;
    let postings: Postings =
        postcard::from_bytes(&postings).map_err(|e| format!("the label index: {e}"))?;
    if let Some((.., ids)) = postings
        .iter()
        .find(|(.., ids)| ids.iter().any(|&id| id as usize >= series.len()))
    {
        return Err(format!(
            "the label index names series {ids:?} of {}",
            series.len()
        ));
    }
    let mut columns = Columns {
        ends: &ends,
        counts: &counts,
        floats: &floats,
        dists: &dists,
    };
    let mut runs = Vec::with_capacity(series.len());
    for stored in series {
        let kind = SeriesKind::from_code(stored.kind)
            .ok_or_else(|| format!("series kind {} is unknown", stored.kind))?;
        let windows = columns.windows(kind, stored.windows)?;
        let labels = Labels::new(stored.labels);
        runs.push(PackedRun {
            digest: labels.digest(),
            key: Arc::new(SeriesKey {
                tenant: stored.tenant,
                labels,
                kind,
            }),
            windows,
        });
    }
    if !(columns.ends.is_empty()
        && columns.counts.is_empty()
        && columns.floats.is_empty()
        && columns.dists.is_empty())
    {
        return Err("columns hold more values than the series table says".to_owned());
    }
    Ok(Decoded { runs, postings })
}

struct Columns<'a> {
    ends: &'a [u8],
    counts: &'a [u8],
    floats: &'a [u8],
    dists: &'a [u8],
}

impl Columns<'_> {
    fn windows(&mut self, kind: SeriesKind, n: u32) -> Result<Packed, String> {
        // Each window takes at least one byte of `ends`: a corrupt count
        // cannot make this reserve more than the file holds.
        if n as usize > self.ends.len() {
            return Err(format!("a series claims {n} windows"));
        }
        let mut out = Packed::with_capacity(kind, n as usize);
        let mut end = 0i64;
        for i in 0..n {
            let v = take_varint(&mut self.ends)?;
            end = if i == 0 {
                unzigzag(v)
            } else {
                end.checked_add(i64::try_from(v).map_err(|_| "a window end overflows")?)
                    .ok_or("a window end overflows")?
            };
            let value = match kind {
                SeriesKind::Gauge => {
                    let count = take_varint(&mut self.counts)?;
                    let [sum, min, max, last] = self.floats::<4>()?;
                    WindowValue::Gauge {
                        count,
                        sum,
                        min,
                        max,
                        last,
                    }
                }
                SeriesKind::Counter => {
                    let [delta, total] = self.floats::<2>()?;
                    WindowValue::Counter { delta, total }
                }
                SeriesKind::Histogram => {
                    let count = take_varint(&mut self.counts)?;
                    let [sum] = self.floats::<1>()?;
                    let len = take_varint(&mut self.dists)? as usize;
                    if len > self.dists.len() {
                        return Err("a histogram runs past its column".to_owned());
                    }
                    let (bytes, rest) = self.dists.split_at(len);
                    self.dists = rest;
                    WindowValue::Histogram {
                        count,
                        sum,
                        distribution: Arc::new(Distribution::decode(bytes)?),
                    }
                }
            };
            out.push(end, value);
        }
        Ok(out)
    }

    fn floats<const N: usize>(&mut self) -> Result<[f64; N], String> {
        if self.floats.len() < N * 8 {
            return Err("the float column ends early".to_owned());
        }
        let mut out = [0.0; N];
        for (i, f) in out.iter_mut().enumerate() {
            *f = f64::from_le_bytes(self.floats[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        }
        self.floats = &self.floats[N * 8..];
        Ok(out)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        if n > self.0.len() as u64 {
            return Err(format!("a section of {n} bytes runs past the end"));
        }
        let (head, rest) = self.0.split_at(n as usize);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or("a column ends early")?;
        *bytes = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a varint is longer than 10 bytes".to_owned())
}

#[cfg(test)]
mod tests {
    use super::tests_support::{sample, unpacked};
    use super::*;

    #[test]
    fn a_window_file_reads_back_exactly() {
        let runs = sample();
        let decoded = decode(&encode(&runs)).unwrap();
        assert_eq!(format!("{:?}", unpacked(&decoded)), format!("{runs:?}"));
        let job: Vec<_> = decoded
            .postings
            .iter()
            .filter(|(_, n, v, _)| n == "job" && v == "api")
            .map(|(t, _, _, ids)| (t.as_str(), ids.clone()))
            .collect();
        assert_eq!(job, [("a", vec![0, 1]), ("b", vec![2])]);
    }

    #[test]
    fn every_flipped_byte_is_reported_never_a_panic() {
        let bytes = encode(&sample());
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            assert!(
                decode(&damaged).is_err(),
                "a flip at byte {at} went unnoticed"
            );
        }
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_err(),
                "a cut at {len} went unnoticed"
            );
        }
    }
}

#[cfg(test)]
mod fixture {
    use super::tests_support::{sample, unpacked};
    use super::*;

    /// A window file as the first version of the format wrote it
    /// (`WEIR_WRITE_FIXTURES=1` rewrites it; only ever do that for a new
    /// version, keeping the old file beside it).
    const V1: &[u8] = include_bytes!("fixtures/window-file-v1.wf");

    #[test]
    fn the_first_format_version_still_reads() {
        if std::env::var_os("WEIR_WRITE_FIXTURES").is_some() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/metrics/store/fixtures/window-file-v1.wf"
            );
            std::fs::write(path, encode(&sample())).unwrap();
        }
        let decoded = decode(V1).unwrap();
        assert_eq!(
            format!("{:?}", unpacked(&decoded)),
            format!("{:?}", sample())
        );
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub fn unpacked(decoded: &Decoded) -> Vec<Run> {
        decoded.runs.iter().map(PackedRun::unpack).collect()
    }

    fn key(tenant: &str, name: &str, kind: SeriesKind) -> Arc<SeriesKey> {
        Arc::new(SeriesKey {
            tenant: tenant.to_owned(),
            labels: Labels::new([
                ("__name__".to_owned(), name.to_owned()),
                ("job".to_owned(), "api".to_owned()),
            ]),
            kind,
        })
    }

    pub(super) fn sample() -> Vec<Run> {
        let mut distribution = Distribution::new(3);
        distribution.record(0.25, 3);
        distribution.record(1.5, 1);
        vec![
            Run {
                key: key("a", "hits_total", SeriesKind::Counter),
                windows: vec![
                    (
                        -10_000,
                        WindowValue::Counter {
                            delta: 1.0,
                            total: 1.0,
                        },
                    ),
                    (
                        10_000,
                        WindowValue::Counter {
                            delta: 2.5,
                            total: 3.5,
                        },
                    ),
                ],
            },
            Run {
                key: key("a", "queue", SeriesKind::Gauge),
                windows: vec![(
                    20_000,
                    WindowValue::Gauge {
                        count: 2,
                        sum: 3.0,
                        min: 1.0,
                        max: 2.0,
                        last: f64::NAN,
                    },
                )],
            },
            Run {
                key: key("b", "latency", SeriesKind::Histogram),
                windows: vec![(
                    30_000,
                    WindowValue::Histogram {
                        count: 4,
                        sum: 2.25,
                        distribution: Arc::new(distribution),
                    },
                )],
            },
        ]
    }
}
