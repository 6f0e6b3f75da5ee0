"""What tracing costs a request (maestro/tracing.py, docs/operations.md "Traces"): the same
request loop through Django's full handler (middleware, token auth, the view, its queries),
in one process, with tracing off (no OTLP endpoint: nothing installed, the API's no-op
provider) and on (the web process's instrumentation, spans batched to an exporter that drops
them, so the figure is the instrumentation's and not the network's), interleaved by rounds so
that a busy machine slows both alike. Also the per-log-line cost of the trace filter, which is
the only code the off path runs.

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/tracing.py

Options: --requests 1000 (per round and mode) --rounds 3 --path /api/maestro/workflows."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import timeit
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import drop_bench_database, percentile, use_bench_database  # noqa: E402

DB_NAME = "maestro_bench_tracing"


def fresh_connections() -> None:
    """New connections for the next mode: psycopg is instrumented as a connection is made."""
    from django.db import connections

    connections.close_all()
    for connection in connections.all(initialized_only=True):
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


def loop(path: str, token: str, requests: int) -> list[float]:
    from django.test import Client

    fresh_connections()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    for _ in range(50):  # warm-up: connections, caches
        assert client.get(path).status_code == 200
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--path", default="/api/maestro/workflows")
    args = parser.parse_args(argv)
    use_bench_database(DB_NAME)
    try:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        from maestro import tracing
        from maestro.core.actors import Actor
        from maestro.logging import TraceContextFilter
        from maestro.tenancy.services import default_tenant, user_with_token

        token = user_with_token(username="bench", tenant_slug=default_tenant().slug, role="operator",
                                actor=Actor.system("bench"))

        class Dropped(SpanExporter):
            count = 0

            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                Dropped.count += len(spans)
                return SpanExportResult.SUCCESS

        provider = tracing.tracer_provider(tracing.WEB)
        provider.add_span_processor(BatchSpanProcessor(Dropped()))
        results: dict[str, list[float]] = {"off": [], "on": []}
        rounds: list[dict[str, Any]] = []
        for n in range(args.rounds):
            off = loop(args.path, token, args.requests)
            tracing.instrument(provider, web=True)
            try:
                on = loop(args.path, token, args.requests)
            finally:
                tracing.uninstrument()
            results["off"] += off
            results["on"] += on
            rounds.append({"round": n + 1, "off_p50_ms": round(statistics.median(off), 3),
                           "on_p50_ms": round(statistics.median(on), 3)})
        provider.force_flush()
        record = logging_record()
        line_filter = TraceContextFilter()
        filter_us = min(timeit.repeat(lambda: line_filter.filter(record), number=100_000, repeat=5)) * 10
        summary = {
            mode: {"requests": len(times), "mean_ms": round(statistics.mean(times), 3),
                   "p50_ms": round(percentile(times, 50), 3), "p99_ms": round(percentile(times, 99), 3)}
            for mode, times in results.items()}
        print(json.dumps({"path": args.path, "rounds": rounds, **summary,
                          "p50_ratio_on_off": round(summary["on"]["p50_ms"] / summary["off"]["p50_ms"], 3),
                          "spans_per_request_on": round(Dropped.count / (len(results["on"]) + 50 * args.rounds), 2),
                          "trace_filter_us_per_log_line": round(filter_us, 3)}, indent=2))
    finally:
        fresh_connections()  # the pool too: it would reconnect to the dropped database
        drop_bench_database(DB_NAME)


def logging_record() -> Any:
    import logging

    return logging.LogRecord("bench", logging.INFO, __file__, 1, "line", None, None)


if __name__ == "__main__":
    main()
