//! The simulated services: the resource every signal's records carry, and
//! the attribute constructors the generators share.
//!
//! Service `i` is named after the benchmark payloads' service list, with a
//! numeric suffix once the list is exhausted (`checkout`, ..., `quote`,
//! `checkout-2`, ...), so `--services` may exceed 20 and names stay unique.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::bench::payload::{Rng, SERVICES};

/// Services whose log records or spans share one request: a request is
/// split into this many resources, as a Collector's batches are.
pub const SERVICES_PER_REQUEST: usize = 5;

const LANGUAGES: &[&str] = &["go", "java", "python", "nodejs", "dotnet", "rust"];
const ENVIRONMENTS: &[&str] = &["production", "production", "production", "staging"];
const REGIONS: &[&str] = &["eu-west-1", "us-east-1", "us-west-2"];

/// One simulated service and its resource.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub resource: Resource,
    /// The instrumentation scope its records come from.
    pub scope: InstrumentationScope,
}

/// `count` services with their resource attributes, deterministic for a seed.
pub fn services(count: usize, rng: &mut Rng) -> Vec<Service> {
    (0..count)
        .map(|i| {
            let base = SERVICES[i % SERVICES.len()];
            let name = match i / SERVICES.len() {
                0 => base.to_string(),
                round => format!("{base}-{}", round + 1),
            };
            let language = rng.pick(LANGUAGES);
            let attributes = vec![
                string("service.name", &name),
                string("service.namespace", "shop"),
                string(
                    "service.version",
                    &format!("1.{}.{}", rng.below(20), rng.below(10)),
                ),
                string(
                    "service.instance.id",
                    &format!("{name}-{:08x}", rng.next() as u32),
                ),
                string(
                    "host.name",
                    &format!("ip-10-0-{}-{}", rng.below(16), rng.below(250)),
                ),
                string("cloud.region", rng.pick(REGIONS)),
                string("deployment.environment.name", rng.pick(ENVIRONMENTS)),
                string("telemetry.sdk.name", "opentelemetry"),
                string("telemetry.sdk.language", language),
            ];
            Service {
                scope: InstrumentationScope {
                    name: format!("io.opentelemetry.{language}.http"),
                    version: "1.32.0".to_string(),
                    ..Default::default()
                },
                name,
                resource: Resource {
                    attributes,
                    ..Default::default()
                },
            }
        })
        .collect()
}

/// The `count` services a request carries, starting at service
/// `first % services.len()`, in order and without repeats.
pub fn window(services: &[Service], first: usize, count: usize) -> Vec<usize> {
    let count = count.min(services.len());
    (0..count).map(|k| (first + k) % services.len()).collect()
}

pub fn string(key: &str, value: &str) -> KeyValue {
    attribute(key, Value::StringValue(value.to_string()))
}

pub fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, Value::IntValue(value))
}

pub fn double(key: &str, value: f64) -> KeyValue {
    attribute(key, Value::DoubleValue(value))
}

fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_unique_past_the_list() {
        let services = services(45, &mut Rng::new(1));
        let mut names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 45);
        assert_eq!(services[20].name, "checkout-2");
        assert_eq!(
            services[0].resource.attributes[0],
            string("service.name", "checkout")
        );
    }

    #[test]
    fn window_wraps_without_repeats() {
        let services = services(4, &mut Rng::new(1));
        assert_eq!(window(&services, 3, 3), vec![3, 0, 1]);
        assert_eq!(window(&services, 0, 9), vec![0, 1, 2, 3]);
    }
}
