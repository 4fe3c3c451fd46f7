"""Prometheus metrics of one server app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from cim.server.limits import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    """Requests, errors, latencies, batch sizes and queue depth of one app."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cim_requests", "HTTP requests by endpoint and status.", ["endpoint", "status"], registry=r)
        self.errors = Counter("cim_errors", "HTTP responses with status >= 400.", ["endpoint", "status"], registry=r)
        self.latency = Histogram("cim_request_seconds", "Request latency by endpoint.", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.items = Counter("cim_items_scored", "Captions scored.", registry=r)
        self.batch_size = Histogram("cim_batch_size", "Captions per scorer call.", buckets=BATCH_BUCKETS, registry=r)
        self.batch_seconds = Histogram("cim_batch_seconds", "Duration of a scorer call.", buckets=LATENCY_BUCKETS,
                                       registry=r)
        self.queue_depth = Gauge("cim_queue_items", "Captions waiting for the scorer.", registry=r)
        self.fallbacks = Counter("cim_batch_fallbacks", "Batches re-scored request by request after an error.",
                                 registry=r)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        self.items.inc(size)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request, rejected ones included; unknown paths share one label."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, endpoints: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
        status = 500
        start = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
            self.metrics.requests.labels(endpoint, str(status)).inc()
            if status >= 400:
                self.metrics.errors.labels(endpoint, str(status)).inc()
