"""Prometheus metrics of the HTTP server (request counts and latency by route template)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter("mscc_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "mscc_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def install(app: FastAPI) -> None:
    """Count every request under its route template (``/api/restaurants/{restaurant_id}``), so that
    ids in paths cannot explode the number of time series."""

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "<unmatched>")
        HTTP_REQUESTS.labels(request.method, template, str(response.status_code)).inc()
        HTTP_LATENCY.labels(template).observe(time.perf_counter() - start)
        return response


def render() -> Response:
    """The Prometheus text exposition of this process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
