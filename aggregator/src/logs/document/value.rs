//! Borrowed tantivy values: a document copies the bytes of a field once,
//! straight from where they already are — the decoded OTLP request, an
//! attribute map, a list of labels — with no owned tree built first.

use std::collections::{BTreeMap, btree_map};
use std::{iter, slice};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use tantivy::schema::OwnedValue;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf, Value};

/// A value as a tantivy document field sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum DocValue<'a> {
    /// An attribute map's pairs, one per key, in key order.
    Attributes(&'a [&'a KeyValue]),
    /// An OTLP value with no bytes in it (their base64 text is not borrowable).
    Otlp(&'a AnyValue),
    Owned(&'a OwnedValue),
    OwnedMap(&'a BTreeMap<String, OwnedValue>),
    /// The `labels` field: `{tenant: {name: value, ...}}`.
    Labels {
        tenant: &'a str,
        pairs: &'a [(&'a str, &'a str)],
    },
    Pairs(&'a [(&'a str, &'a str)]),
    Str(&'a str),
    Null,
}

impl<'a> DocValue<'a> {
    fn of_key_value(kv: &'a KeyValue) -> (&'a str, DocValue<'a>) {
        let value = kv.value.as_ref().map_or(DocValue::Null, DocValue::Otlp);
        (kv.key.as_str(), value)
    }
}

/// The pairs of an object value.
pub(super) enum DocPairs<'a> {
    Attributes(slice::Iter<'a, &'a KeyValue>),
    KeyValues(slice::Iter<'a, KeyValue>),
    Owned(slice::Iter<'a, (String, OwnedValue)>),
    OwnedMap(btree_map::Iter<'a, String, OwnedValue>),
    Tenant(iter::Once<(&'a str, DocValue<'a>)>),
    Pairs(slice::Iter<'a, (&'a str, &'a str)>),
}

impl<'a> Iterator for DocPairs<'a> {
    type Item = (&'a str, DocValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            DocPairs::Attributes(pairs) => pairs.next().map(|kv| DocValue::of_key_value(kv)),
            DocPairs::KeyValues(pairs) => pairs.next().map(DocValue::of_key_value),
            DocPairs::Owned(pairs) => pairs.next().map(|(k, v)| (k.as_str(), DocValue::Owned(v))),
            DocPairs::OwnedMap(pairs) => {
                pairs.next().map(|(k, v)| (k.as_str(), DocValue::Owned(v)))
            }
            DocPairs::Tenant(pair) => pair.next(),
            DocPairs::Pairs(pairs) => pairs.next().map(|(k, v)| (*k, DocValue::Str(v))),
        }
    }
}

/// The items of an array value.
pub(super) enum DocItems<'a> {
    Otlp(slice::Iter<'a, AnyValue>),
    Owned(slice::Iter<'a, OwnedValue>),
}

impl<'a> Iterator for DocItems<'a> {
    type Item = DocValue<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            DocItems::Otlp(items) => items.next().map(DocValue::Otlp),
            DocItems::Owned(items) => items.next().map(DocValue::Owned),
        }
    }
}

impl<'a> Value<'a> for DocValue<'a> {
    type ArrayIter = DocItems<'a>;
    type ObjectIter = DocPairs<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        use any_value::Value as V;
        let leaf = |leaf| ReferenceValue::Leaf(leaf);
        match *self {
            DocValue::Attributes(pairs) => {
                ReferenceValue::Object(DocPairs::Attributes(pairs.iter()))
            }
            DocValue::Otlp(value) => match &value.value {
                // An index into a profiles string table, which logs never carry.
                None | Some(V::StringValueStrindex(_)) => leaf(ReferenceValueLeaf::Null),
                Some(V::StringValue(s)) => leaf(ReferenceValueLeaf::Str(s)),
                Some(V::BoolValue(b)) => leaf(ReferenceValueLeaf::Bool(*b)),
                Some(V::IntValue(i)) => leaf(ReferenceValueLeaf::I64(*i)),
                Some(V::DoubleValue(d)) => leaf(ReferenceValueLeaf::F64(*d)),
                // Never built over bytes (see the variant); null keeps it total.
                Some(V::BytesValue(_)) => leaf(ReferenceValueLeaf::Null),
                Some(V::ArrayValue(a)) => ReferenceValue::Array(DocItems::Otlp(a.values.iter())),
                Some(V::KvlistValue(kv)) => {
                    ReferenceValue::Object(DocPairs::KeyValues(kv.values.iter()))
                }
            },
            DocValue::Owned(OwnedValue::Object(pairs)) => {
                ReferenceValue::Object(DocPairs::Owned(pairs.iter()))
            }
            DocValue::Owned(OwnedValue::Array(items)) => {
                ReferenceValue::Array(DocItems::Owned(items.iter()))
            }
            DocValue::Owned(value) => leaf(value.as_leaf().unwrap_or(ReferenceValueLeaf::Null)),
            DocValue::OwnedMap(map) => ReferenceValue::Object(DocPairs::OwnedMap(map.iter())),
            DocValue::Labels { tenant, pairs } => ReferenceValue::Object(DocPairs::Tenant(
                iter::once((tenant, DocValue::Pairs(pairs))),
            )),
            DocValue::Pairs(pairs) => ReferenceValue::Object(DocPairs::Pairs(pairs.iter())),
            DocValue::Str(s) => leaf(ReferenceValueLeaf::Str(s)),
            DocValue::Null => leaf(ReferenceValueLeaf::Null),
        }
    }
}

/// Whether `value` holds bytes anywhere (which [`DocValue::Otlp`] cannot
/// show as the base64 text the mapping gives them).
pub(super) fn holds_bytes(value: &AnyValue) -> bool {
    use any_value::Value as V;
    match &value.value {
        Some(V::BytesValue(_)) => true,
        Some(V::ArrayValue(a)) => a.values.iter().any(holds_bytes),
        Some(V::KvlistValue(kv)) => kv
            .values
            .iter()
            .any(|kv| kv.value.as_ref().is_some_and(holds_bytes)),
        _ => false,
    }
}
