#!/usr/bin/env python3
"""Sends logs, metrics and spans to Weir with the real OpenTelemetry Python SDK.

Usage:
    otel_sdk_emit.py --protocol grpc|http --endpoint URL [--compression none|gzip] OUTPUT

`--endpoint` is the receiver's base URL (`http://127.0.0.1:4317` for gRPC,
`http://127.0.0.1:4318` for HTTP; the HTTP exporters get `/v1/<signal>`
appended). Every signal goes through the SDK's own OTLP exporter for the
protocol (protobuf on both), with the SDK's own processors and readers.

When everything has been exported and acknowledged, OUTPUT receives a JSON
document describing exactly what was sent, so the Rust test
(`tests/otlp_sdk.rs`) can compare what Weir stored field by field. Values
keep their OTLP types in JSON: strings, integers (no decimal point), doubles
(always with one), booleans, arrays and maps; trace and span ids are
lowercase hex.

Exits non-zero, writing no OUTPUT, if any export fails, if a flush times
out, or if the SDK logs a warning or an error (which is how it reports
dropped data and failed exports).
"""

import argparse
import bisect
import json
import logging
import math
import secrets
import sys
import time

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

SCOPE_NAME = "weir.interop"
SCOPE_VERSION = "1.0.0"
# Explicit bucket bounds of the histogram, so the expected bucket counts
# are computed here rather than depending on the SDK's defaults.
HISTOGRAM_BOUNDS = [10.0, 50.0, 100.0]
# How long any one flush may take; the receiver is on loopback.
FLUSH_MILLIS = 20_000


class ProblemLog(logging.Handler):
    """Collects every warning or error the SDK logs: a failed export, a
    retry, dropped attributes. Any of them fails the run: even a retry that
    later succeeded means Weir refused a small request on an idle loopback."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.problems = []

    def emit(self, record):
        self.problems.append(f"{record.name}: {record.getMessage()}")


class ExportResults:
    """Records the result of every `export` call of the wrapped exporters."""

    def __init__(self):
        self.calls = {}  # signal -> list of result names

    def watch(self, signal, exporter):
        """Wraps `exporter.export` so its results are recorded under `signal`."""
        export = exporter.export
        self.calls[signal] = []

        def recorded_export(*args, **kwargs):
            result = export(*args, **kwargs)
            self.calls[signal].append(result.name)
            return result

        exporter.export = recorded_export
        return exporter

    def problems(self):
        out = []
        for signal, results in self.calls.items():
            if not results:
                out.append(f"{signal}: the exporter was never called")
            out += [f"{signal}: export returned {r}" for r in results if r != "SUCCESS"]
        return out


def exporters(protocol, endpoint, compression):
    """The SDK's OTLP exporters for logs, metrics and spans over `protocol`."""
    if protocol == "grpc":
        from grpc import Compression
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        codec = {"none": Compression.NoCompression, "gzip": Compression.Gzip}[compression]
        options = dict(endpoint=endpoint, insecure=True, compression=codec, timeout=10)
        return OTLPLogExporter(**options), OTLPMetricExporter(**options), OTLPSpanExporter(**options)

    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    options = dict(compression=Compression(compression), timeout=10)
    base = endpoint.rstrip("/")
    return (
        OTLPLogExporter(endpoint=f"{base}/v1/logs", **options),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", **options),
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", **options),
    )


def hex_trace_id(span):
    return format(span.get_span_context().trace_id, "032x")


def hex_span_id(span):
    return format(span.get_span_context().span_id, "016x")


def emit_spans(tracer):
    """A server span with a client child that fails. Returns both, ended,
    for the JSON."""
    with tracer.start_as_current_span(
        "GET /orders/{id}",
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.response.status_code": 500, "retry": False},
    ) as parent:
        parent.add_event("request.received", {"bytes": 512, "tags": ["a", "b"]})
        with tracer.start_as_current_span(
            "SELECT orders",
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": "postgresql", "db.rows": 0, "load": 0.75},
        ) as child:
            child.add_event("query.sent")
            child.add_event("query.failed", {"error.type": "timeout", "elapsed_ms": 1500.5})
            child.set_status(Status(StatusCode.ERROR, "query timed out"))
        parent.set_status(Status(StatusCode.OK))
    return parent, child


def describe_span(span):
    """What was sent for one ended span, in the JSON's shape."""
    return {
        "name": span.name,
        "trace_id": hex_trace_id(span),
        "span_id": hex_span_id(span),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else "",
        "kind": "SPAN_KIND_" + span.kind.name,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": {"code": "STATUS_CODE_" + span.status.status_code.name, "message": span.status.description or ""},
        "attributes": dict(span.attributes),
        "events": [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
    }


def emit_logs(logger, tracer):
    """Log records of every severity class, with string and map bodies and
    typed attributes; two are emitted inside an active span."""
    sent = []

    def emit(severity_number, severity_text, body, attributes, span=None, event_name=None):
        timestamp = time.time_ns()
        logger.emit(
            timestamp=timestamp,
            severity_number=severity_number,
            severity_text=severity_text,
            body=body,
            attributes=attributes,
            event_name=event_name,
        )
        sent.append(
            {
                "time_unix_nano": timestamp,
                "severity_number": severity_number.value,
                "severity_text": severity_text,
                "body": body,
                "attributes": attributes,
                "event_name": event_name or "",
                "trace_id": hex_trace_id(span) if span else "",
                "span_id": hex_span_id(span) if span else "",
                "flags": int(span.get_span_context().trace_flags) if span else 0,
            }
        )

    emit(SeverityNumber.DEBUG, "DEBUG", "cache warmed", {"entries": 1024})
    emit(SeverityNumber.INFO, "INFO", "user logged in", {"user.id": "u-17", "admin": False, "ratio": 0.25})
    emit(SeverityNumber.WARN, "WARN", "disk almost full", {"disk.free_bytes": 1 << 33, "mounts": ["/", "/var"]})
    with tracer.start_as_current_span("checkout", kind=SpanKind.INTERNAL) as span:
        emit(SeverityNumber.ERROR, "ERROR", "payment declined", {"order.id": 4242, "retryable": True}, span)
        emit(
            SeverityNumber.FATAL,
            "FATAL",
            {"message": "invariant broken", "code": 7, "details": {"ledger": "eu"}},
            {"component": "ledger"},
            span,
            event_name="ledger.invariant",
        )
    emit(SeverityNumber.INFO2, "INFO2", "ünïcödé ✓ body", {"lang": "de"})
    return sent, span


def emit_metrics(meter, tracer):
    """Every instrument kind. Returns what each exported point must hold,
    and the span the exemplar names."""
    counter = meter.create_counter("interop.requests", unit="1", description="requests served")
    for route, increments in {"/a": [3, 4], "/b": [5]}.items():
        for n in increments:
            counter.add(n, {"route": route})

    up_down = meter.create_up_down_counter("interop.queue.depth", unit="{item}")
    for n in [10, -3, 5, -9]:
        up_down.add(n, {"queue": "jobs"})

    gauge = meter.create_gauge("interop.temperature", unit="Cel")
    for value in [21.5, 22.25]:
        gauge.set(value, {"room": "lab"})

    def observe_memory(_options: CallbackOptions):
        yield Observation(1_500_000, {"pool": "heap"})
        yield Observation(250_000, {"pool": "stack"})

    meter.create_observable_gauge("interop.memory.used", callbacks=[observe_memory], unit="By")

    histogram = meter.create_histogram("interop.latency", unit="ms")
    latencies = [5.0, 20.0, 20.0, 70.0, 300.0]
    for value in latencies[:-1]:
        histogram.record(value, {"route": "/a"})
    # The last one inside a sampled span, so the point carries an exemplar.
    with tracer.start_as_current_span("slow request") as span:
        histogram.record(latencies[-1], {"route": "/a"})

    sizes = meter.create_histogram("interop.payload.size", unit="By")
    payloads = [0.5, 1.0, 3.0, 3.0, 1000.0, 123456.0]
    for value in payloads:
        sizes.record(value, {"codec": "zstd"})

    bucket_counts = [0] * (len(HISTOGRAM_BOUNDS) + 1)
    for value in latencies:
        # OTLP bucket i holds (bounds[i-1], bounds[i]]: upper bounds inclusive.
        bucket_counts[bisect.bisect_left(HISTOGRAM_BOUNDS, value)] += 1

    expected = [
        {
            "name": "interop.requests",
            "unit": "1",
            "description": "requests served",
            "kind": "sum",
            "monotonic": True,
            "temporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
            "points": [{"attributes": {"route": "/a"}, "value": 7}, {"attributes": {"route": "/b"}, "value": 5}],
        },
        {
            "name": "interop.queue.depth",
            "unit": "{item}",
            "description": "",
            "kind": "sum",
            "monotonic": False,
            "temporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
            "points": [{"attributes": {"queue": "jobs"}, "value": 3}],
        },
        {
            "name": "interop.temperature",
            "unit": "Cel",
            "description": "",
            "kind": "gauge",
            "points": [{"attributes": {"room": "lab"}, "value": 22.25}],
        },
        {
            "name": "interop.memory.used",
            "unit": "By",
            "description": "",
            "kind": "gauge",
            "points": [
                {"attributes": {"pool": "heap"}, "value": 1_500_000},
                {"attributes": {"pool": "stack"}, "value": 250_000},
            ],
        },
        {
            "name": "interop.latency",
            "unit": "ms",
            "description": "",
            "kind": "histogram",
            "temporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
            "points": [
                {
                    "attributes": {"route": "/a"},
                    "count": len(latencies),
                    "sum": sum(latencies),
                    "min": min(latencies),
                    "max": max(latencies),
                    "explicit_bounds": HISTOGRAM_BOUNDS,
                    "bucket_counts": bucket_counts,
                    "exemplar": {
                        "value": latencies[-1],
                        "trace_id": hex_trace_id(span),
                        "span_id": hex_span_id(span),
                    },
                }
            ],
        },
        {
            "name": "interop.payload.size",
            "unit": "By",
            "description": "",
            "kind": "exponential_histogram",
            "temporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
            "points": [
                {
                    "attributes": {"codec": "zstd"},
                    "count": len(payloads),
                    "sum": sum(payloads),
                    "min": min(payloads),
                    "max": max(payloads),
                }
            ],
        },
    ]
    return expected, span


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True, help="receiver base URL, e.g. http://127.0.0.1:4317")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    parser.add_argument("output", help="where to write the JSON description of what was sent")
    args = parser.parse_args()

    problems = ProblemLog()
    logging.getLogger("opentelemetry").addHandler(problems)

    service_name = f"interop-{args.protocol}-{secrets.token_hex(4)}"
    resource_attributes = {
        "service.name": service_name,
        "service.version": "2.3.4",
        "service.instance.id": secrets.token_hex(8),
        "deployment.environment.name": "interop",
        "host.cpu.count": 2,
    }
    resource = Resource.create(resource_attributes)

    results = ExportResults()
    log_exporter, metric_exporter, span_exporter = exporters(args.protocol, args.endpoint, args.compression)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(results.watch("spans", span_exporter)))
    tracer = tracer_provider.get_tracer(SCOPE_NAME, SCOPE_VERSION)

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(results.watch("logs", log_exporter)))
    logger = logger_provider.get_logger(SCOPE_NAME, SCOPE_VERSION)

    # An infinite interval starts no export thread: the one export happens at
    # force_flush below, so each point is exported exactly once.
    reader = PeriodicExportingMetricReader(results.watch("metrics", metric_exporter), export_interval_millis=math.inf)
    views = [
        View(instrument_name="interop.latency", aggregation=ExplicitBucketHistogramAggregation(HISTOGRAM_BOUNDS)),
        View(instrument_name="interop.payload.size", aggregation=ExponentialBucketHistogramAggregation()),
    ]
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader], views=views)
    meter = meter_provider.get_meter(SCOPE_NAME, SCOPE_VERSION)

    parent, child = emit_spans(tracer)
    logs, log_span = emit_logs(logger, tracer)
    metrics, exemplar_span = emit_metrics(meter, tracer)

    flushed = {
        "spans": tracer_provider.force_flush(FLUSH_MILLIS),
        "logs": logger_provider.force_flush(FLUSH_MILLIS),
        "metrics": meter_provider.force_flush(FLUSH_MILLIS),
    }
    meter_provider.shutdown()
    logger_provider.shutdown()
    tracer_provider.shutdown()

    failures = [f"{signal}: force_flush timed out" for signal, ok in flushed.items() if not ok]
    failures += results.problems() + problems.problems
    if failures:
        print("otel_sdk_emit: export failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1

    sent = {
        "service_name": service_name,
        "resource_attributes": resource_attributes,
        "scope": {"name": SCOPE_NAME, "version": SCOPE_VERSION},
        "logs": logs,
        "metrics": metrics,
        # The spans the logs and the exemplar name are exported too.
        "spans": [describe_span(s) for s in (parent, child, log_span, exemplar_span)],
        "exports": results.calls,
    }
    with open(args.output, "w", encoding="utf-8") as out:
        json.dump(sent, out, indent=2, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
