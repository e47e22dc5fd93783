//! The bound on requests being decoded or stored at once, per transport
//! ([`crate::otlp_grpc::MAX_CONCURRENT_REQUESTS`]).
//!
//! Bodies being read or decoded are not yet under the in-flight budget;
//! this bounds how many there are. A request waits for a slot at most
//! [`SLOT_WAIT`] and is then refused with a retry hint (429 /
//! `UNAVAILABLE`), as one over the byte budget is: while the log is stalled
//! the slots stay taken, and small requests fill them long before the
//! budget, so waiting without end would leave exporters to time out
//! instead of hearing when to retry.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::IngestError;
use crate::signal::Signal;

/// Long enough to absorb a burst of requests on a healthy log, short
/// against an exporter's timeout (10 s by default in the OTLP exporters).
pub const SLOT_WAIT: Duration = Duration::from_secs(1);

/// Slots for requests in progress on one transport.
#[derive(Clone)]
pub struct Slots {
    semaphore: Arc<Semaphore>,
    slots: usize,
    retry_after: Duration,
}

impl Slots {
    pub fn new(slots: usize, retry_after: Duration) -> Slots {
        Slots {
            semaphore: Arc::new(Semaphore::new(slots)),
            slots,
            retry_after,
        }
    }

    /// A slot, held until dropped; or a refusal with a retry hint after
    /// [`SLOT_WAIT`].
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, IngestError> {
        let semaphore = Arc::clone(&self.semaphore);
        match tokio::time::timeout(SLOT_WAIT, semaphore.acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(IngestError::Overloaded {
                reason: format!(
                    "ingest is at its bound of {} concurrent requests; retry later",
                    self.slots
                ),
                retry_after: self.retry_after,
            }),
        }
    }
}

/// A tower layer that holds a slot for the whole of each gRPC call and
/// answers `UNAVAILABLE` with `RetryInfo` when none frees up in time.
#[derive(Clone)]
pub struct SlotLayer(pub Slots);

impl<S> tower::Layer<S> for SlotLayer {
    type Service = SlotService<S>;

    fn layer(&self, inner: S) -> SlotService<S> {
        SlotService {
            inner,
            slots: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct SlotService<S> {
    inner: S,
    slots: Slots,
}

impl<S, RequestBody, Body> tower::Service<http::Request<RequestBody>> for SlotService<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    RequestBody: Send + 'static,
    Body: Default + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        // The service that was polled ready goes with the call.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let slots = self.slots.clone();
        let signal = signal_of(request.uri().path());
        Box::pin(async move {
            let started = std::time::Instant::now();
            let mut inner = ready;
            match slots.acquire().await {
                Ok(slot) => {
                    let response = inner.call(request).await;
                    drop(slot);
                    response
                }
                Err(refusal) => {
                    // The service never saw this request, so count it here.
                    if let Some(signal) = signal {
                        crate::telemetry::request(
                            signal,
                            "grpc",
                            refusal.outcome(),
                            started.elapsed(),
                        );
                    }
                    Ok(crate::otlp_grpc::status(refusal).into_http())
                }
            }
        })
    }
}

/// The signal of a gRPC method path (`/opentelemetry.proto.collector.logs.v1.LogsService/Export`).
fn signal_of(path: &str) -> Option<Signal> {
    let service = path.trim_start_matches('/').split('/').next()?;
    match service {
        "opentelemetry.proto.collector.logs.v1.LogsService" => Some(Signal::Logs),
        "opentelemetry.proto.collector.metrics.v1.MetricsService" => Some(Signal::Metrics),
        "opentelemetry.proto.collector.trace.v1.TraceService" => Some(Signal::Traces),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_paths_name_their_signal() {
        assert_eq!(
            signal_of("/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
            Some(Signal::Logs)
        );
        assert_eq!(
            signal_of("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"),
            Some(Signal::Metrics)
        );
        assert_eq!(
            signal_of("/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
            Some(Signal::Traces)
        );
        assert_eq!(signal_of("/grpc.health.v1.Health/Check"), None);
    }
}
