//! The series a worker knows: their keys, their counter state, and a fast
//! way from an OTLP point to its series.
//!
//! Finding a point's series must not allocate in the common case: the
//! resource's attributes and each point's attributes are digested once
//! (128-bit xxh3 over their bytes as they arrive), a series' hash is the
//! digest of those two digests, the metric name and the derived-series
//! suffix, and the hash maps to a slot. Only a hash never seen builds the point's
//! [`Labels`]; if another hash already made the same series (attributes in
//! another order, an int and a string with the same text), the new hash
//! becomes an alias of that slot.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use crate::labels::{Labels, label_name};
use crate::metrics::cardinality::{Cardinality, Refusal};
use crate::metrics::window::{SeriesKey, SeriesKind};

/// A slot in the series table.
pub(super) type Slot = u32;

/// A cumulative series' last point, to turn the next one into a delta.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct Cumulative {
    pub start_nanos: u64,
    pub time_nanos: u64,
    pub value: f64,
}

/// A cumulative histogram's last point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct PreviousBuckets {
    pub start_nanos: u64,
    pub time_nanos: u64,
    pub count: u64,
    pub sum: f64,
    pub shape: Shape,
}

/// A histogram point's buckets: explicit bounds with a count per bucket
/// (one more count than bounds), or an exponential scale's positive
/// buckets from `offset` plus the zero bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Shape {
    Explicit {
        bounds: Vec<f64>,
        counts: Vec<u64>,
    },
    Exponential {
        scale: i32,
        zero: u64,
        offset: i32,
        counts: Vec<u64>,
    },
}

impl Shape {
    /// The bucket counts of `self` minus those of an earlier point of the
    /// same series, or `None` when they cannot be subtracted (other
    /// bounds, a finer scale than before, or a count went down).
    pub fn minus(&self, earlier: &Shape) -> Option<Shape> {
        match (self, earlier) {
            (
                Shape::Explicit { bounds, counts },
                Shape::Explicit {
                    bounds: earlier_bounds,
                    counts: earlier_counts,
                },
            ) if bounds == earlier_bounds && counts.len() == earlier_counts.len() => {
                let counts = counts
                    .iter()
                    .zip(earlier_counts)
                    .map(|(now, before)| now.checked_sub(*before))
                    .collect::<Option<Vec<u64>>>()?;
                Some(Shape::Explicit {
                    bounds: bounds.clone(),
                    counts,
                })
            }
            (
                Shape::Exponential {
                    scale,
                    zero,
                    offset,
                    counts,
                },
                Shape::Exponential {
                    scale: earlier_scale,
                    zero: earlier_zero,
                    offset: earlier_offset,
                    counts: earlier_counts,
                },
            ) if earlier_scale >= scale => {
                // Downscaling merges buckets exactly: index i at scale s is
                // index i >> (s - s') at scale s'.
                let shift = (earlier_scale - scale) as u32;
                let mut out = counts.clone();
                for (j, &count) in earlier_counts.iter().enumerate() {
                    if count == 0 {
                        continue;
                    }
                    let index = (earlier_offset + j as i32) >> shift;
                    let at = usize::try_from(index - offset).ok()?;
                    let slot = out.get_mut(at)?;
                    *slot = slot.checked_sub(count)?;
                }
                Some(Shape::Exponential {
                    scale: *scale,
                    zero: zero.checked_sub(*earlier_zero)?,
                    offset: *offset,
                    counts: out,
                })
            }
            _ => None,
        }
    }
}

/// What a worker keeps per series between windows.
#[derive(Debug, Clone)]
pub(super) struct SeriesState {
    pub key: Arc<SeriesKey>,
    /// The hashes that lead to this slot.
    pub hashes: Vec<u128>,
    /// The last point of a cumulative counter or histogram.
    pub cumulative: Option<Cumulative>,
    pub buckets: Option<PreviousBuckets>,
    /// A counter's running sum of deltas.
    pub total: f64,
    /// Event time of the newest point, milliseconds.
    pub last_seen_ms: i64,
}

/// The labels every series of one resource shares, built on first need.
pub(super) struct ResourceContext<'a> {
    pub tenant: &'a str,
    pub attributes: &'a [KeyValue],
    digest: u128,
    labels: Option<Vec<(String, String)>>,
}

impl<'a> ResourceContext<'a> {
    pub fn new(tenant: &'a str, attributes: &'a [KeyValue]) -> ResourceContext<'a> {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(tenant.as_bytes());
        bytes.push(0xff);
        write_attributes(&mut bytes, attributes);
        ResourceContext {
            tenant,
            attributes,
            digest: xxh3_128(&bytes),
            labels: None,
        }
    }

    fn labels(&mut self) -> &[(String, String)] {
        self.labels.get_or_insert_with(|| pairs(self.attributes))
    }
}

/// A point's attributes with their digest, computed once for every series
/// the point feeds.
pub(super) struct PointAttributes<'a> {
    pub attributes: &'a [KeyValue],
    digest: u128,
}

impl<'a> PointAttributes<'a> {
    /// Digests `attributes`, using `scratch` as the buffer.
    pub fn new(attributes: &'a [KeyValue], scratch: &mut Vec<u8>) -> PointAttributes<'a> {
        scratch.clear();
        write_attributes(scratch, attributes);
        PointAttributes {
            attributes,
            digest: xxh3_128(scratch),
        }
    }
}

/// Which series of a metric a point feeds: the metric itself, or one
/// derived from it (`_count`, `_sum`, `_bucket{le=..}`, `{quantile=..}`).
#[derive(Debug, Clone, Copy)]
pub(super) struct SeriesName<'a> {
    pub metric: &'a str,
    pub suffix: &'a str,
    /// An extra label (`le` or `quantile`) and its value.
    pub extra: Option<(&'a str, f64)>,
    pub kind: SeriesKind,
}

/// The series of one partition.
#[derive(Debug, Default)]
pub(super) struct SeriesTable {
    slots: Vec<Option<SeriesState>>,
    free: Vec<Slot>,
    by_hash: HashMap<u128, Slot, FxBuildHasher>,
    by_key: HashMap<Arc<SeriesKey>, Slot>,
}

impl SeriesTable {
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn get(&self, slot: Slot) -> &SeriesState {
        self.slots[slot as usize]
            .as_ref()
            .expect("open windows and lookups only hold live slots")
    }

    pub fn get_mut(&mut self, slot: Slot) -> &mut SeriesState {
        self.slots[slot as usize]
            .as_mut()
            .expect("open windows and lookups only hold live slots")
    }

    /// The slot of a point's series, creating it if the cardinality limits
    /// allow.
    pub fn resolve(
        &mut self,
        resource: &mut ResourceContext<'_>,
        name: SeriesName<'_>,
        point: &PointAttributes<'_>,
        cardinality: &Cardinality,
    ) -> Result<Slot, Refusal> {
        let hash = series_hash(resource.digest, name, point.digest);
        if let Some(&slot) = self.by_hash.get(&hash) {
            return Ok(slot);
        }
        let key = Arc::new(SeriesKey {
            tenant: resource.tenant.to_owned(),
            labels: series_labels(resource.labels(), name, point.attributes),
            kind: name.kind,
        });
        if let Some(&slot) = self.by_key.get(&key) {
            self.by_hash.insert(hash, slot);
            self.get_mut(slot).hashes.push(hash);
            return Ok(slot);
        }
        cardinality.admit(&key.tenant, key.name())?;
        Ok(self.insert(SeriesState {
            key,
            hashes: vec![hash],
            cumulative: None,
            buckets: None,
            total: 0.0,
            last_seen_ms: i64::MIN,
        }))
    }

    /// Adds a series (new, or restored from a checkpoint).
    pub fn insert(&mut self, state: SeriesState) -> Slot {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as Slot
            }
        };
        for hash in &state.hashes {
            self.by_hash.insert(*hash, slot);
        }
        self.by_key.insert(Arc::clone(&state.key), slot);
        self.slots[slot as usize] = Some(state);
        slot
    }

    /// Forgets the series in `slots`; returns their keys.
    pub fn evict_slots(&mut self, slots: &[Slot]) -> Vec<Arc<SeriesKey>> {
        let mut evicted = Vec::new();
        for &slot in slots {
            let Some(state) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
                continue;
            };
            for hash in &state.hashes {
                self.by_hash.remove(hash);
            }
            self.by_key.remove(&state.key);
            self.free.push(slot);
            evicted.push(state.key);
        }
        evicted
    }

    /// Every live series with its slot.
    pub fn iter(&self) -> impl Iterator<Item = (Slot, &SeriesState)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| s.as_ref().map(|s| (slot as Slot, s)))
    }
}

fn series_hash(resource: u128, name: SeriesName<'_>, point: u128) -> u128 {
    let mut bytes = [0u8; 256];
    let mut at = 0;
    let mut put = |part: &[u8]| {
        let end = (at + part.len()).min(bytes.len());
        bytes[at..end].copy_from_slice(&part[..end - at]);
        at = end;
    };
    put(&resource.to_le_bytes());
    put(&point.to_le_bytes());
    put(&[name.kind.code()]);
    if let Some((label, value)) = name.extra {
        put(&value.to_bits().to_le_bytes());
        put(label.as_bytes());
    }
    put(name.suffix.as_bytes());
    put(&[0xfe]);
    // A name longer than the buffer is hashed on its own and mixed in.
    if name.metric.len() > 160 {
        put(&xxh3_128(name.metric.as_bytes()).to_le_bytes());
    } else {
        put(name.metric.as_bytes());
    }
    xxh3_128(&bytes[..at])
}

fn write_attributes(out: &mut Vec<u8>, attributes: &[KeyValue]) {
    for attribute in attributes {
        out.extend_from_slice(attribute.key.as_bytes());
        out.push(0xfd);
        write_value(out, attribute.value.as_ref());
        out.push(0xfc);
    }
}

fn write_value(out: &mut Vec<u8>, value: Option<&AnyValue>) {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValueKind::StringValue(s)) => out.extend_from_slice(s.as_bytes()),
        Some(AnyValueKind::BoolValue(b)) => out.extend_from_slice(&[1, u8::from(*b)]),
        Some(AnyValueKind::IntValue(i)) => {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Some(AnyValueKind::DoubleValue(d)) => {
            out.push(3);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        // Rare in metric attributes: their label text.
        Some(_) => out.extend_from_slice(label_value(value).as_bytes()),
        None => {}
    }
}

/// Label pairs of attributes in the Prometheus view.
fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (label_name(&kv.key), label_value(kv.value.as_ref())))
        .collect()
}

fn series_labels(
    resource: &[(String, String)],
    name: SeriesName<'_>,
    attributes: &[KeyValue],
) -> Labels {
    let mut all = resource.to_vec();
    all.extend(pairs(attributes));
    if let Some((label, value)) = name.extra {
        all.push((label.to_owned(), float_label(value)));
    }
    all.push((
        "__name__".to_owned(),
        format!("{}{}", crate::labels::metric_name(name.metric), name.suffix),
    ));
    Labels::new(all)
}

/// An attribute value as label text: strings as they are, other scalars
/// in their usual text form, arrays and maps as JSON.
pub(super) fn label_value(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValueKind::StringValue(s)) => s.clone(),
        // Dictionary references only appear in profiles, never in metrics.
        Some(AnyValueKind::StringValueStrindex(i)) => i.to_string(),
        Some(AnyValueKind::BoolValue(b)) => b.to_string(),
        Some(AnyValueKind::IntValue(i)) => i.to_string(),
        Some(AnyValueKind::DoubleValue(d)) => float_label(*d),
        Some(AnyValueKind::BytesValue(bytes)) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Some(AnyValueKind::ArrayValue(array)) => {
            let items: Vec<String> = array
                .values
                .iter()
                .map(|v| serde_json::to_string(&label_value(Some(v))).unwrap_or_default())
                .collect();
            format!("[{}]", items.join(","))
        }
        Some(AnyValueKind::KvlistValue(list)) => {
            let items: Vec<String> = list
                .values
                .iter()
                .map(|kv| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(&kv.key).unwrap_or_default(),
                        serde_json::to_string(&label_value(kv.value.as_ref())).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        None => String::new(),
    }
}

/// A float as Prometheus prints `le` and `quantile` values: `+Inf`, and
/// the shortest text that reads back (`0.5`, `1`, `2.5e-05`).
pub(super) fn float_label(value: f64) -> String {
    if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if value.is_nan() {
        "NaN".to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::cardinality::CardinalityLimits;

    fn kv(key: &str, value: AnyValueKind) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn name(metric: &str) -> SeriesName<'_> {
        SeriesName {
            metric,
            suffix: "",
            extra: None,
            kind: SeriesKind::Gauge,
        }
    }

    #[test]
    fn the_same_labels_in_another_order_are_one_series() {
        let cardinality = Cardinality::new(CardinalityLimits::default());
        let resource = [kv("service.name", AnyValueKind::StringValue("api".into()))];
        let mut context = ResourceContext::new("t", &resource);
        let mut table = SeriesTable::default();
        let mut scratch = Vec::new();
        let a = kv("a", AnyValueKind::IntValue(1));
        let b = kv("b", AnyValueKind::StringValue("x".into()));
        let first = table
            .resolve(
                &mut context,
                name("http.requests"),
                &PointAttributes::new(&[a.clone(), b.clone()], &mut scratch),
                &cardinality,
            )
            .unwrap();
        let swapped = table
            .resolve(
                &mut context,
                name("http.requests"),
                &PointAttributes::new(&[b, a.clone()], &mut scratch),
                &cardinality,
            )
            .unwrap();
        let as_text = kv("a", AnyValueKind::StringValue("1".into()));
        let text = table
            .resolve(
                &mut context,
                name("http.requests"),
                &PointAttributes::new(&[as_text], &mut scratch),
                &cardinality,
            )
            .unwrap();
        assert_eq!(first, swapped);
        assert_ne!(first, text);
        assert_eq!(table.len(), 2);
        assert_eq!(cardinality.active("t"), 2);
        let key = &table.get(first).key;
        assert_eq!(
            key.labels.to_string(),
            r#"{__name__="http_requests", a="1", b="x", service_name="api"}"#
        );
    }

    #[test]
    fn idle_series_are_evicted_and_their_slots_reused() {
        let cardinality = Cardinality::new(CardinalityLimits::default());
        let mut context = ResourceContext::new("t", &[]);
        let mut table = SeriesTable::default();
        let mut scratch = Vec::new();
        let none = PointAttributes::new(&[], &mut scratch);
        let slot = table
            .resolve(&mut context, name("x"), &none, &cardinality)
            .unwrap();
        assert_eq!(table.evict_slots(&[slot]).len(), 1);
        assert_eq!(table.len(), 0);
        let again = table
            .resolve(&mut context, name("y"), &none, &cardinality)
            .unwrap();
        assert_eq!(again, slot);
    }

    #[test]
    fn exponential_buckets_subtract_across_a_coarser_scale() {
        let earlier = Shape::Exponential {
            scale: 1,
            zero: 1,
            offset: 2,
            counts: vec![1, 2, 3],
        };
        // At scale 0 the indexes 2,3 → 1 and 4 → 2.
        let now = Shape::Exponential {
            scale: 0,
            zero: 2,
            offset: 1,
            counts: vec![5, 4],
        };
        assert_eq!(
            now.minus(&earlier),
            Some(Shape::Exponential {
                scale: 0,
                zero: 1,
                offset: 1,
                counts: vec![2, 1],
            })
        );
        assert_eq!(earlier.minus(&now), None, "a finer scale cannot subtract");
    }

    #[test]
    fn floats_print_like_prometheus() {
        assert_eq!(float_label(0.5), "0.5");
        assert_eq!(float_label(1.0), "1");
        assert_eq!(float_label(f64::INFINITY), "+Inf");
        assert_eq!(float_label(2.5e-5), "0.000025");
    }
}
