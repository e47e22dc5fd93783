//! Log requests: access-log-like records of 400–500 encoded bytes with
//! ten attributes, a severity matching the HTTP status, a varied body and
//! the trace context of the request they describe.
//!
//! A request carries records of [`SERVICES_PER_REQUEST`] services, one
//! `ResourceLogs` per service, as an OpenTelemetry Collector's batch does;
//! successive requests start at successive services so that a few requests
//! cover them all.

use std::time::Duration;

use anyhow::Result;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};

use super::exchange::Exchange;
use super::resource::{self, SERVICES_PER_REQUEST, Service, double, int, string};
use super::stamp::{Stamps, Template};
use crate::bench::payload::{Rng, WORDS};

/// Records are stamped up to this long before the request is sent, as an
/// SDK's batch processor holds them.
const MAX_RECORD_AGE: Duration = Duration::from_millis(200);

const OUTCOMES: &[&str] = &[
    "served from cache",
    "cache miss",
    "upstream slow",
    "rate limit refilled",
    "session refreshed",
    "flag checkout-v2 on",
    "retried after reset",
    "ok",
];
const ERRORS: &[&str] = &[
    "upstream reset before headers",
    "deadline exceeded calling inventory",
    "db pool exhausted",
    "panic recovered: index out of range",
    "quantity must be positive",
];

/// The `index`-th request of the pool: `batch` log records.
pub fn request(
    services: &[Service],
    index: usize,
    batch: usize,
    rng: &mut Rng,
) -> Result<Template> {
    let window = resource::window(services, index * SERVICES_PER_REQUEST, SERVICES_PER_REQUEST);
    let mut stamps = Stamps::default();
    let mut records: Vec<Vec<LogRecord>> = vec![Vec::new(); window.len()];
    for _ in 0..batch {
        // Skewed towards the window's first services: some services are chattier.
        let slot = rng.below(window.len()).min(rng.below(window.len()));
        records[slot].push(record(&Exchange::random(rng), rng, &mut stamps));
    }
    let resource_logs = window
        .iter()
        .zip(records)
        .filter(|(_, records)| !records.is_empty())
        .map(|(&service, log_records)| {
            let service = &services[service];
            ResourceLogs {
                resource: Some(service.resource.clone()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(service.scope.clone()),
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    stamps.finish(&ExportLogsServiceRequest { resource_logs }, batch as u64)
}

/// One log record describing `exchange`.
pub fn record(exchange: &Exchange, rng: &mut Rng, stamps: &mut Stamps) -> LogRecord {
    let (severity, text) = match exchange.status {
        500.. => (SeverityNumber::Error, "ERROR"),
        400..500 => (SeverityNumber::Warn, "WARN"),
        _ if exchange.route == "/healthz" => (SeverityNumber::Debug, "DEBUG"),
        _ => (SeverityNumber::Info, "INFO"),
    };
    let millis = exchange.duration.as_secs_f64() * 1000.0;
    let age = Duration::from_micros(rng.next() % MAX_RECORD_AGE.as_micros() as u64);
    let observed_after = Duration::from_micros(rng.next() % 500).min(age);
    LogRecord {
        time_unix_nano: stamps.time(age),
        observed_time_unix_nano: stamps.time(age - observed_after),
        severity_number: severity as i32,
        severity_text: text.to_string(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(body(exchange, millis, rng))),
        }),
        attributes: vec![
            string("http.request.method", exchange.method),
            string("url.path", &exchange.path),
            string("http.route", exchange.route),
            int("http.response.status_code", i64::from(exchange.status)),
            string("user_agent.original", exchange.user_agent),
            string("client.address", &exchange.client_address),
            double("duration_ms", (millis * 1000.0).round() / 1000.0),
            int("http.response.body.size", exchange.response_bytes as i64),
            int("server.port", [8080, 8443, 3000][rng.below(3)]),
            string("enduser.id", &format!("user-{}", rng.next() % 500_000)),
        ],
        trace_id: rng.bytes(16),
        span_id: rng.bytes(8),
        // W3C trace flags: sampled.
        flags: 1,
        ..Default::default()
    }
}

fn body(exchange: &Exchange, millis: f64, rng: &mut Rng) -> String {
    let detail = if exchange.is_server_error() {
        ERRORS[rng.below(ERRORS.len())]
    } else {
        OUTCOMES[rng.below(OUTCOMES.len())]
    };
    let mut body = format!(
        "{} {} {} in {millis:.1} ms: {detail}",
        exchange.method, exchange.path, exchange.status
    );
    if rng.below(3) == 0 {
        body.push_str(", ");
        body.push_str(rng.pick(WORDS));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_record_encodes_to_400_to_500_bytes_with_ten_attributes() {
        let mut rng = Rng::new(42);
        let mut stamps = Stamps::default();
        let records: Vec<LogRecord> = (0..1000)
            .map(|_| record(&Exchange::random(&mut rng), &mut rng, &mut stamps))
            .collect();
        let sizes: Vec<usize> = records.iter().map(Message::encoded_len).collect();
        let mean = sizes.iter().sum::<usize>() / sizes.len();
        assert!((400..=500).contains(&mean), "mean record size {mean} bytes");
        assert!(sizes.iter().all(|&s| (350..=700).contains(&s)), "{sizes:?}");
        assert!(records.iter().all(|r| r.attributes.len() == 10));
        assert!(
            records
                .iter()
                .all(|r| r.trace_id.len() == 16 && r.span_id.len() == 8)
        );
    }

    #[test]
    fn severity_follows_status() {
        let mut rng = Rng::new(3);
        let mut stamps = Stamps::default();
        for _ in 0..300 {
            let exchange = Exchange::random(&mut rng);
            let record = record(&exchange, &mut rng, &mut stamps);
            let expected = match exchange.status {
                500.. => "ERROR",
                400..500 => "WARN",
                _ => record.severity_text.as_str(),
            };
            assert_eq!(record.severity_text, expected);
        }
    }

    #[test]
    fn a_request_groups_records_by_service() {
        let services = resource::services(20, &mut Rng::new(1));
        let template = request(&services, 1, 512, &mut Rng::new(2)).unwrap();
        let clock = super::super::stamp::Clock::read(0);
        let decoded = ExportLogsServiceRequest::decode(template.render(clock)).unwrap();
        let names: Vec<_> = decoded
            .resource_logs
            .iter()
            .map(|r| r.resource.as_ref().unwrap().attributes[0].clone())
            .collect();
        assert!(names.len() > 1 && names.len() <= SERVICES_PER_REQUEST);
        let total: usize = decoded
            .resource_logs
            .iter()
            .map(|r| r.scope_logs[0].log_records.len())
            .sum();
        assert_eq!(total, 512);
        let record = &decoded.resource_logs[0].scope_logs[0].log_records[0];
        let age = clock.now_ns - record.time_unix_nano;
        assert!(age <= MAX_RECORD_AGE.as_nanos() as u64);
        assert!(record.observed_time_unix_nano >= record.time_unix_nano);
    }
}
