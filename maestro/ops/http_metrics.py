"""django-prometheus's request metrics (``django_http_*``), as they are, at less cost a request.

Its middleware asks ``prometheus_client`` for a labelled child on every update, about ten
times a request, and each ask checks its arguments and takes the metric's lock: a tenth of a
task read's CPU went to the metrics. The children a process has used are remembered here, keyed
by metric and labels; they are the metric's own children, so nothing counts differently, and
there are as many as the metric has (views × methods × statuses), nothing more."""

from __future__ import annotations

from typing import Any

from django_prometheus.middleware import PrometheusAfterMiddleware as _PrometheusAfterMiddleware


class PrometheusAfterMiddleware(_PrometheusAfterMiddleware):  # type: ignore[misc]  # untyped base
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._children: dict[tuple[Any, ...], Any] = {}

    def label_metric(self, metric: Any, request: Any, response: Any = None, **labels: Any) -> Any:
        if not labels:
            return metric
        key = (id(metric), *labels.items())  # the metrics live as long as the process
        child = self._children.get(key)
        if child is None:  # two threads may both ask: labels() hands both the same child
            child = self._children[key] = metric.labels(**labels)
        return child
