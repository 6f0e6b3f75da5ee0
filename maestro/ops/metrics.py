"""``/metrics`` (Prometheus) and the process-independent gauges computed at scrape time, so every
web replica reports the truth of the shared stores rather than its own counters.

The page names every tenant with its ledger height, backlog and archive lag, so it is not
public in production: a scraper sends ``Authorization: Bearer <MAESTRO_METRICS_TOKEN>``, and
without a configured token production serves no metrics at all. Dev and test are open unless a
token is set (docs/operations.md, "Probes and metrics")."""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from django_prometheus.exports import ExportToDjangoView
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from maestro.core.exceptions import Forbidden, Unauthenticated

log = logging.getLogger(__name__)


class QueueDepthCollector(Collector):
    """Celery queue depth: the length of the broker's Redis list per queue."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("maestro_queue_depth", "Jobs waiting in the broker queue", labels=["queue"])
        if settings.REDIS_URL:
            import redis

            try:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
                try:
                    for queue in settings.MAESTRO_METRIC_QUEUES:
                        gauge.add_metric([queue], float(client.llen(queue)))
                finally:
                    client.close()
            except Exception:  # a scrape must not fail because the broker is down: /readyz says so
                log.warning("queue depth unavailable", extra={"event": "metrics.queue_depth_failed"})
        yield gauge


@functools.cache
def register() -> None:
    """Once per process (a second registration of the same metric names would raise)."""
    REGISTRY.register(QueueDepthCollector())


def require_scrape_credential(request: HttpRequest) -> None:
    """Raises unless the request may read the metrics (the module's docstring says who may)."""
    expected: str = settings.MAESTRO_METRICS_TOKEN
    if not expected:
        if settings.MAESTRO_METRICS_OPEN:
            return
        raise Forbidden("Metrics are off: set MAESTRO_METRICS_TOKEN (MAESTRO_ENV=production)")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Unauthenticated("Metrics need Authorization: Bearer <MAESTRO_METRICS_TOKEN>")


@require_safe
def export(request: HttpRequest) -> HttpResponse:
    require_scrape_credential(request)
    response: HttpResponse = ExportToDjangoView(request)
    return response
