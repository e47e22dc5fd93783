//! Trace requests: traces of a few services each — a server span at the
//! entry service, client spans calling the next services, their server
//! spans, internal work and database calls — with parent/child ids, span
//! kinds, HTTP attributes, durations nested inside their parents, and an
//! error status (plus an `exception` event) when the exchange failed.
//!
//! Spans are grouped into one `ResourceSpans` per service, for the
//! [`SERVICES_PER_REQUEST`] services a request covers. The last trace of a
//! request may be cut short so that the request holds exactly
//! `--batch-size` spans, as a batch processor cuts traces too.

use std::time::Duration;

use anyhow::Result;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::exchange::Exchange;
use super::resource::{self, SERVICES_PER_REQUEST, Service, int, string};
use super::stamp::{Stamps, Template};
use crate::bench::payload::Rng;

/// Traces end up to this long before the request is sent.
const MAX_TRACE_AGE: Duration = Duration::from_millis(500);
const TABLES: &[&str] = &["orders", "carts", "products", "users", "payments"];

/// The `index`-th request of the pool: `batch` spans.
pub fn request(
    services: &[Service],
    index: usize,
    batch: usize,
    rng: &mut Rng,
) -> Result<Template> {
    let window = resource::window(services, index * SERVICES_PER_REQUEST, SERVICES_PER_REQUEST);
    let mut trace = Trace {
        services,
        window: &window,
        spans: vec![Vec::new(); window.len()],
        budget: batch,
        stamps: Stamps::default(),
        trace_id: Vec::new(),
        end_lag: Duration::ZERO,
        length: Duration::ZERO,
    };
    while trace.budget > 0 {
        trace.root(rng);
    }
    let resource_spans = window
        .iter()
        .zip(trace.spans)
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(&service, spans)| ResourceSpans {
            resource: Some(services[service].resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(services[service].scope.clone()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    trace
        .stamps
        .finish(&ExportTraceServiceRequest { resource_spans }, batch as u64)
}

/// Builds the spans of one trace at a time into per-service lists.
struct Trace<'a> {
    services: &'a [Service],
    window: &'a [usize],
    spans: Vec<Vec<Span>>,
    /// Spans the request still has room for.
    budget: usize,
    stamps: Stamps,
    trace_id: Vec<u8>,
    /// The current trace ends this long before the request is sent...
    end_lag: Duration,
    /// ...and lasts this long.
    length: Duration,
}

impl Trace<'_> {
    /// A new trace entering at a random service of the window.
    fn root(&mut self, rng: &mut Rng) {
        let exchange = Exchange::random(rng);
        self.trace_id = rng.bytes(16);
        self.end_lag = Duration::from_micros(rng.next() % MAX_TRACE_AGE.as_micros() as u64);
        self.length = exchange.duration;
        let slot = rng.below(self.window.len());
        self.server(slot, &[], &exchange, Duration::ZERO, exchange.duration, rng);
    }

    /// A server span of service `slot` and what it calls.
    fn server(
        &mut self,
        slot: usize,
        parent: &[u8],
        exchange: &Exchange,
        start: Duration,
        length: Duration,
        rng: &mut Rng,
    ) {
        let name = self.services[self.window[slot]].name.clone();
        let attributes = vec![
            string("http.request.method", exchange.method),
            string("http.route", exchange.route),
            string("url.path", &exchange.path),
            int("http.response.status_code", i64::from(exchange.status)),
            string("server.address", &name),
            string("user_agent.original", exchange.user_agent),
            string("client.address", &exchange.client_address),
        ];
        let title = format!("{} {}", exchange.method, exchange.route);
        let Some(id) = self.span(
            slot,
            parent,
            title,
            SpanKind::Server,
            start,
            length,
            attributes,
            exchange,
            rng,
        ) else {
            return;
        };
        // Work inside the server span: a database query, then downstream calls.
        let mut at = start + length / 10;
        if rng.below(2) == 0 {
            let query = length / 5;
            let table = TABLES[rng.below(TABLES.len())];
            let attributes = vec![
                string("db.system.name", "postgresql"),
                string("db.namespace", "shop"),
                string(
                    "db.query.text",
                    &format!("SELECT * FROM {table} WHERE id = $1"),
                ),
                string("server.address", "postgres.shop.svc"),
            ];
            let ok = Exchange {
                status: 200,
                ..exchange.clone()
            };
            self.span(
                slot,
                &id,
                format!("SELECT shop.{table}"),
                SpanKind::Client,
                at,
                query,
                attributes,
                &ok,
                rng,
            );
            at += query;
        }
        let calls = if parent.is_empty() {
            1 + rng.below(3)
        } else {
            rng.below(2)
        };
        for _ in 0..calls {
            let remaining = (start + length).saturating_sub(at);
            let call = remaining / 2;
            if call.is_zero() {
                break;
            }
            let callee = (slot + 1 + rng.below(self.window.len().max(2) - 1)) % self.window.len();
            let downstream = Exchange {
                duration: call,
                ..Exchange::random(rng)
            };
            let host = self.services[self.window[callee]].name.clone();
            let attributes = vec![
                string("http.request.method", downstream.method),
                string(
                    "url.full",
                    &format!("http://{host}:8080{}", downstream.path),
                ),
                string("server.address", &host),
                int("server.port", 8080),
                int("http.response.status_code", i64::from(downstream.status)),
            ];
            let Some(client) = self.span(
                slot,
                &id,
                downstream.method.to_string(),
                SpanKind::Client,
                at,
                call,
                attributes,
                &downstream,
                rng,
            ) else {
                return;
            };
            self.server(
                callee,
                &client,
                &downstream,
                at + call / 10,
                call * 8 / 10,
                rng,
            );
            at += call;
        }
    }

    /// Adds one span unless the request is full; returns its id.
    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        slot: usize,
        parent: &[u8],
        name: String,
        kind: SpanKind,
        start: Duration,
        length: Duration,
        attributes: Vec<KeyValue>,
        exchange: &Exchange,
        rng: &mut Rng,
    ) -> Option<Vec<u8>> {
        if self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        // Lags before the send: the trace's end is `end_lag` ago, its start `end_lag + length` ago.
        let trace_start_lag = self.end_lag + self.length;
        let end_lag = trace_start_lag.saturating_sub(start + length);
        let (status, events) = if exchange.is_server_error() {
            let event = Event {
                time_unix_nano: self.stamps.time(end_lag),
                name: "exception".to_string(),
                attributes: vec![
                    string("exception.type", "UpstreamError"),
                    string(
                        "exception.message",
                        &format!("{} returned {}", exchange.path, exchange.status),
                    ),
                ],
                ..Default::default()
            };
            let status = Status {
                code: StatusCode::Error as i32,
                message: format!("HTTP {}", exchange.status),
            };
            (Some(status), vec![event])
        } else {
            (None, Vec::new())
        };
        let id = rng.bytes(8);
        self.spans[slot].push(Span {
            trace_id: self.trace_id.clone(),
            span_id: id.clone(),
            parent_span_id: parent.to_vec(),
            flags: 1,
            name,
            kind: kind as i32,
            start_time_unix_nano: self.stamps.time(trace_start_lag.saturating_sub(start)),
            end_time_unix_nano: self.stamps.time(end_lag),
            attributes,
            events,
            status,
            ..Default::default()
        });
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use prost::Message;

    use super::super::stamp::Clock;
    use super::*;

    #[test]
    fn spans_nest_inside_their_parents() {
        let services = resource::services(20, &mut Rng::new(1));
        let template = request(&services, 2, 300, &mut Rng::new(5)).unwrap();
        let clock = Clock {
            now_ns: 1_700_000_000_000_000_000,
            ticks: 0,
        };
        let decoded = ExportTraceServiceRequest::decode(template.render(clock)).unwrap();
        assert!(
            decoded.resource_spans.len() > 1,
            "spans of several services"
        );
        let spans: Vec<Span> = decoded
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans.into_iter().flat_map(|s| s.spans))
            .collect();
        assert_eq!(spans.len(), 300);
        let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (&s.span_id[..], s)).collect();
        let (mut roots, mut children) = (0, 0);
        for span in &spans {
            assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
            assert!(span.end_time_unix_nano <= clock.now_ns);
            if span.parent_span_id.is_empty() {
                roots += 1;
                assert_eq!(span.kind, SpanKind::Server as i32);
            } else if let Some(parent) = by_id.get(&span.parent_span_id[..]) {
                children += 1;
                assert_eq!(parent.trace_id, span.trace_id);
                assert!(parent.start_time_unix_nano <= span.start_time_unix_nano);
                assert!(span.end_time_unix_nano <= parent.end_time_unix_nano);
            }
            let failed = span
                .status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::Error as i32);
            assert_eq!(
                failed,
                !span.events.is_empty(),
                "errors carry an exception event"
            );
        }
        assert!(
            roots > 10 && children > roots,
            "{roots} roots, {children} children"
        );
    }
}
