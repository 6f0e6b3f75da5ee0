"""Process-independent gauges, computed at scrape time so every web replica reports the truth
of the shared stores rather than its own counters."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator

from django.conf import settings
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from maestro.queue import all_queues

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
                    for queue in settings.MAESTRO_METRIC_QUEUES or all_queues():
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
