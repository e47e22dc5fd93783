//! Splitting a request per resource into log records.
//!
//! Each resource becomes one record whose value is an `Export*ServiceRequest`
//! holding just that resource (so a Kafka consumer or an OpenTelemetry
//! Collector `kafkareceiver` with `encoding: otlp_proto` reads it unchanged),
//! whose key is the resource's `service.name` — or, without one, a stable
//! hash of its attributes — and whose partition is Kafka's murmur2 of the
//! key. The tenant travels as the `weir.tenant` header.

use bytes::Bytes;
use log_core::partitioner::partition_for_key;
use log_core::{NewRecord, TENANT_HEADER};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::signal::Export;

/// The key of a resource's records.
pub fn resource_key(resource: Option<&Resource>) -> Bytes {
    let attributes = resource.map_or(&[][..], |r| &r.attributes[..]);
    let service = attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        });
    match service {
        Some(name) => Bytes::from(name),
        None => Bytes::from(format!("resource-{:016x}", attributes_hash(resource))),
    }
}

/// FNV-1a over the resource's attributes in key order, so that the same
/// attributes in any order give the same key.
fn attributes_hash(resource: Option<&Resource>) -> u64 {
    let mut pairs: Vec<(&str, Vec<u8>)> = resource
        .map(|r| {
            r.attributes
                .iter()
                .map(|kv| {
                    (
                        kv.key.as_str(),
                        kv.value
                            .as_ref()
                            .map(|v| v.encode_to_vec())
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (key, value) in pairs {
        for byte in key.bytes().chain([0]).chain(value).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// One resource ready to append.
pub struct Routed {
    pub partition: u32,
    pub record: NewRecord,
    pub items: usize,
}

/// Encodes a validated resource as a record routed to its partition.
pub fn route<R: Export>(
    resource: R::Resource,
    partitions: u32,
    tenant: &str,
    now_ms: i64,
) -> Routed {
    let key = resource_key(R::resource(&resource));
    let items = R::count(&resource);
    let partition = partition_for_key(&key, partitions);
    let value = R::from_resource(resource).encode_to_vec();
    Routed {
        partition,
        items,
        record: NewRecord {
            timestamp: now_ms,
            key: Some(key),
            value: Some(Bytes::from(value)),
            headers: vec![(
                TENANT_HEADER.to_owned(),
                Some(Bytes::copy_from_slice(tenant.as_bytes())),
            )],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn key_is_the_service_name() {
        let resource = Resource {
            attributes: vec![kv("host.name", "a"), kv("service.name", "checkout")],
            ..Default::default()
        };
        assert_eq!(resource_key(Some(&resource)), "checkout");
    }

    #[test]
    fn key_without_service_is_a_stable_hash_of_the_attributes() {
        let a = Resource {
            attributes: vec![kv("host.name", "a"), kv("zone", "z1")],
            ..Default::default()
        };
        let b = Resource {
            attributes: vec![kv("zone", "z1"), kv("host.name", "a")],
            ..Default::default()
        };
        let c = Resource {
            attributes: vec![kv("zone", "z2"), kv("host.name", "a")],
            ..Default::default()
        };
        assert_eq!(resource_key(Some(&a)), resource_key(Some(&b)));
        assert_ne!(resource_key(Some(&a)), resource_key(Some(&c)));
        assert!(resource_key(None).starts_with(b"resource-"));
    }
}
