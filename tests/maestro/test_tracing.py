"""Traces (maestro/tracing.py, issue #14): one trace from ``POST /api/maestro/runs`` through every
step of the run and the ledger sequencing of its writes — in this process (the web's spans, read
from the SDK's in-memory exporter) and in a real ``bin/worker`` (its spans exported over OTLP/HTTP
to a collector the test runs); log lines carry the span they were written in; and nothing at all
is set up without an OTLP endpoint."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from maestro import tracing
from orchestration.runs.models import Run
from tests.factories import SYSTEM
from tests.support.jobs import celery_eager, purge
from tests.support.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]
M = "/api/maestro"
# a → (b, c) → d: two steps wait for one, one waits for two
SPEC = {"steps": [{"id": "a", "action": "noop"}, {"id": "b", "action": "noop", "dependsOn": ["a"]},
                  {"id": "c", "action": "noop", "dependsOn": ["a"]},
                  {"id": "d", "action": "noop", "dependsOn": ["b", "c"]}]}
STEP_RUN, STEP_SEND = "run/engine.step", "apply_async/engine.step"  # a step's message: sent, run
STEP = "engine.step.execute"  # one execution of a step (a job may carry on with a step it released)
SEQUENCE_RUN, SEQUENCE_SEND = "run/ledger.sequence_tenant", "apply_async/ledger.sequence_tenant"


@dataclass(frozen=True)
class Span:
    """A finished span, from either side, in W3C hex."""

    name: str
    service: str
    trace_id: str
    span_id: str
    parent_id: str | None
    kind: str
    attributes: dict[str, Any] = field(hash=False)


def _local(span: ReadableSpan) -> Span:
    context, parent = span.get_span_context(), span.parent
    assert context is not None
    return Span(span.name, str(span.resource.attributes["service.name"]), f"{context.trace_id:032x}",
                f"{context.span_id:016x}", None if parent is None else f"{parent.span_id:016x}", span.kind.name,
                dict(span.attributes or {}))


def _value(any_value: Any) -> Any:
    return getattr(any_value, any_value.WhichOneof("value")) if any_value.WhichOneof("value") else None


class Collector:
    """An OTLP/HTTP trace receiver on a loopback port: what the processes export to it."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.resources: list[dict[str, Any]] = []
        self.posts = 0
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                collector._receive(self.path, request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _receive(self, path: str, request: ExportTraceServiceRequest) -> None:
        assert path == "/v1/traces"
        with self._lock:
            self.posts += 1
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                self.resources.append(resource)
                for scope in resource_spans.scope_spans:
                    for s in scope.spans:
                        kind = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}[s.kind]
                        self.spans.append(Span(s.name, resource["service.name"], s.trace_id.hex(), s.span_id.hex(),
                                               s.parent_span_id.hex() or None, kind,
                                               {a.key: _value(a.value) for a in s.attributes}))

    def named(self, name: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.name == name]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.stop()


@pytest.fixture
def traced() -> Iterator[InMemorySpanExporter]:
    """This process traced as the web process is, its spans kept in memory."""
    exporter = InMemorySpanExporter()
    tracing.instrument(tracing.tracer_provider(tracing.WEB, exporter=exporter), web=True)
    try:
        yield exporter
    finally:
        tracing.uninstrument()


def ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    """``span``'s parents, nearest first, as far as the spans seen go."""
    chain = []
    while span.parent_id is not None and span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def released_by(steps: list[Span], by_id: dict[str, Span]) -> dict[str, str | None]:
    """Each step → the step whose execution span its own is under (``None``: none, the root)."""
    def up(span: Span) -> str | None:
        above = next((a for a in ancestors(span, by_id) if a.name == STEP), None)
        return None if above is None else str(above.attributes["maestro.step.id"])

    return {str(s.attributes["maestro.step.id"]): up(s) for s in steps}


def assert_the_dag(steps: list[Span], by_id: dict[str, Span], root: Span) -> None:
    """a → (b, c) → d, each step executed once, each under the step that released it, all under ``root``."""
    released = released_by(steps, by_id)
    assert (len(steps), {s.attributes["maestro.step.outcome"] for s in steps}) == (4, {"succeeded"})
    assert {k: v for k, v in released.items() if k != "d"} == {"a": None, "b": "a", "c": "a"}
    assert released["d"] in {"b", "c"}  # whichever finished last released it
    assert {(s.trace_id, ancestors(s, by_id)[-1].span_id) for s in steps} == {(root.trace_id, root.span_id)}


def make_workflow(tenant) -> None:
    from orchestration.engine.services import workflow_create

    workflow_create(tenant=tenant, actor=SYSTEM, name="traced", spec_json=SPEC)


def finished(run_id: str) -> bool:
    return Run.objects.get(pk=run_id).status in Run.FINISHED


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.postgres
def test_one_trace_runs_from_post_runs_through_every_step_and_the_ledger_sequencing_in_a_real_worker(
        tenant, api_client, traced, collector, worker_processes, tmp_path):
    from maestro.queue import Queue, _redis, queue_name, wake_markers

    # given: a workflow; no message or pending wake-up left over; a real worker tracing to the collector
    make_workflow(tenant)
    steps, sequencer = queue_name(Queue.STEPS), queue_name(Queue.SEQUENCER)
    purge(steps, sequencer)
    markers = _redis(settings_broker())
    for key in markers.scan_iter(wake_markers()):
        markers.delete(key)
    worker = worker_processes(steps, sequencer, OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
                              OTEL_BSP_SCHEDULE_DELAY="50", OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test",
                              MAESTRO_JOB_LOG_LEVEL="INFO")

    # when
    response = api_client.post(f"{M}/runs", {"workflow": "traced"}, format="json")
    run_id = response.json()["id"]
    wait_for(lambda: finished(run_id))
    local = [_local(s) for s in traced.get_finished_spans()]
    [send_sequencer] = [s for s in local if s.name == SEQUENCE_SEND]
    # the sequencing the run's end woke can reach the collector before the one the request woke
    # (separate jobs, separate export batches): wait for the request's own
    wait_for(lambda: len(collector.named(STEP)) == 4
             and send_sequencer.span_id in {s.parent_id for s in collector.named(SEQUENCE_RUN)})

    # then: the request's spans, here
    assert (response.status_code, Run.objects.get(pk=run_id).status) == (201, "succeeded")
    [request] = [s for s in local if s.kind == "SERVER"]
    assert (request.name, request.service, request.parent_id) == ("POST api/maestro/runs", "maestro-web", None)
    assert request.attributes["http.status_code"] == 201
    [send_first] = [s for s in local if s.name == STEP_SEND]
    assert (send_first.kind, send_first.parent_id) == ("PRODUCER", request.span_id)
    assert (send_sequencer.kind, send_sequencer.parent_id) == ("PRODUCER", request.span_id)
    # nothing outside it: the test's own Redis commands (its clean-up), outside any request or
    # job, are not recorded
    assert [s.name for s in local if s.trace_id != request.trace_id] == []

    # then: the worker's, in the same trace, each step under the step that released it
    remote = list(collector.spans)
    by_id = {s.span_id: s for s in local + remote}
    steps = collector.named(STEP)
    assert_the_dag(steps, by_id, request)
    assert {s.service for s in steps} == {"maestro-worker"}
    # every message a step sent is run by a job in the same trace, under the span that sent it
    step_runs = collector.named(STEP_RUN)
    assert {(s.service, s.kind, s.trace_id) for s in step_runs} == {("maestro-worker", "CONSUMER", request.trace_id)}
    assert {by_id[s.parent_id].name for s in step_runs} == {STEP_SEND}
    [first] = [s for s in steps if s.attributes["maestro.step.id"] == "a"]
    assert (by_id[first.parent_id].name, by_id[first.parent_id].parent_id) == (STEP_RUN, send_first.span_id)
    # the ledger sequencing of the run's writes: woken by the request (and by the run's end)
    sequencing = collector.named(SEQUENCE_RUN)
    assert {s.trace_id for s in sequencing} == {request.trace_id}
    # the queries a step makes are its children (psycopg), its messages go through Redis (redis-py)
    queries = [s for s in remote if s.attributes.get("db.system") == "postgresql"]
    assert {a.name for q in queries for a in ancestors(q, by_id)[:1]} >= {STEP}
    assert any(s.attributes.get("db.system") == "redis" and s.trace_id == request.trace_id for s in remote)
    assert {r["service.name"] for r in collector.resources} == {"maestro-worker"}
    assert {r.get("deployment.environment") for r in collector.resources} == {"test"}

    # then: the worker's log line of each step's end names that step's span
    worker_log = next(tmp_path.glob("worker-*.log")).read_text()
    lines = [json.loads(line) for line in worker_log.splitlines() if line.startswith("{")]
    done = [line for line in lines if line.get("logger") == "celery.app.trace" and "engine.step[" in line["message"]]
    span_of_task = {s.attributes["messaging.message.id"]: s for s in step_runs}
    assert len(done) == len(step_runs) >= 1
    for line in done:
        task_id = line["message"].split("engine.step[", 1)[1].split("]", 1)[0]
        assert (line["traceId"], line["spanId"]) == (request.trace_id, span_of_task[task_id].span_id)
    assert worker.poll() is None


def settings_broker() -> str:
    from maestro.celery import app

    return str(app.conf.broker_url)


@pytest.mark.django_db(transaction=True)
def test_in_the_embedded_default_the_deferred_steps_continue_the_request_trace(tenant, api_client, traced, settings):
    from maestro.queue import run_deferred_now

    # given: no broker (jobs run in this process's deferred thread), and a worker that carries on
    # with one released step only, so that a's other branch goes through a message
    settings.MAESTRO_ENGINE_CARRY_STEPS = 1
    make_workflow(tenant)
    with celery_eager(True):
        settings.REDIS_URL = ""
        # when
        response = api_client.post(f"{M}/runs", {"workflow": "traced"}, format="json")
        run_id = response.json()["id"]
        end = time.monotonic() + 60
        while not finished(run_id) and time.monotonic() < end:
            run_deferred_now()
            time.sleep(0.01)
        while run_deferred_now():  # the sequencer's wake-up too: nothing of this test runs in a later one
            pass

    # then: every step's execution is in the request's trace, each a child of what queued it
    spans = [_local(s) for s in traced.get_finished_spans()]
    by_id = {s.span_id: s for s in spans}
    [request] = [s for s in spans if s.kind == "SERVER"]
    assert Run.objects.get(pk=run_id).status == "succeeded"
    assert_the_dag([s for s in spans if s.name == STEP], by_id, request)
    # the deferred thread ran the first step's job in the request's context
    assert {by_id[s.parent_id].name for s in spans if s.name == STEP_RUN} == {"POST api/maestro/runs", STEP}


def test_a_log_line_written_inside_a_span_names_it_and_one_outside_names_none():
    from maestro.logging import RedactingJsonFormatter

    # given: the handler every Maestro process logs through (settings.LOGGING's console handler)
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h.formatter, RedactingJsonFormatter)]
    logger = logging.getLogger("maestro.test_tracing")
    records: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(capture)
    try:
        # when
        tracer = tracing.tracer_provider(tracing.WEB, exporter=InMemorySpanExporter()).get_tracer("test")
        with tracer.start_as_current_span("work") as span:
            logger.warning("inside", extra={"event": "test.inside"})
            inside_record = records[-1]
            handler.filter(inside_record)  # the handler's filters run as it handles the record
        logger.warning("outside", extra={"event": "test.outside"})
        handler.filter(records[-1])
    finally:
        logger.removeHandler(capture)

    # then
    inside, outside = (json.loads(handler.format(r)) for r in records)
    context = span.get_span_context()
    assert (inside["message"], inside["traceId"], inside["spanId"]) == (
        "inside", f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert (len(inside["traceId"]), len(inside["spanId"])) == (32, 16)
    assert ("traceId" in outside, "spanId" in outside) == (False, False)
    assert ("request_id" in inside, "request_id" in outside) == (True, True)


PROBE = """
import json, sys
from opentelemetry import trace
import maestro.asgi  # the web process's start
from django.conf import settings
from maestro import tracing
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
with trace.get_tracer("probe").start_as_current_span("probe"):
    pass
tracing.flush()
print(json.dumps({
    "configured": tracing.configured(),
    "provider": type(trace.get_tracer_provider()).__name__,
    "sdk_imported": "opentelemetry.sdk.trace" in sys.modules,
    "instrumented": [i.__class__.__name__ for i in (DjangoInstrumentor(), CeleryInstrumentor(),
                     PsycopgInstrumentor(), RedisInstrumentor()) if i.is_instrumented_by_opentelemetry],
    "first_middleware": settings.MIDDLEWARE[0],
}))
"""


def probe(**env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, "MAESTRO_ENV": "test", **env},
                          capture_output=True, text=True, timeout=120, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_without_an_otlp_endpoint_nothing_is_set_up_and_nothing_exported(collector):
    # when: a web process starts with no OTEL_EXPORTER_OTLP_ENDPOINT (a collector listening regardless)
    state = probe()

    # then
    assert state == {"configured": None, "provider": "ProxyTracerProvider", "sdk_imported": False,
                     "instrumented": [], "first_middleware": "django_prometheus.middleware.PrometheusBeforeMiddleware"}
    assert (collector.posts, collector.spans) == (0, [])


def test_with_an_otlp_endpoint_the_web_process_exports_its_spans_as_maestro_web(collector):
    # when
    state = probe(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_RESOURCE_ATTRIBUTES="deployment.environment=ci")

    # then
    assert state == {"configured": "maestro-web", "provider": "TracerProvider", "sdk_imported": True,
                     "instrumented": ["DjangoInstrumentor", "CeleryInstrumentor", "PsycopgInstrumentor",
                                      "RedisInstrumentor"],
                     "first_middleware": "opentelemetry.instrumentation.django.middleware.otel_middleware."
                                         "_DjangoMiddleware"}
    assert [(s.name, s.service) for s in collector.spans] == [("probe", "maestro-web")]
    assert collector.resources[0]["deployment.environment"] == "ci"


def test_otel_service_name_names_the_service_instead_and_sdk_disabled_turns_tracing_off(collector):
    # when
    named = probe(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_SERVICE_NAME="maestro-web-eu")
    disabled = probe(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_SDK_DISABLED="true")

    # then
    assert (named["configured"], disabled["configured"]) == ("maestro-web", None)
    assert [(s.name, s.service) for s in collector.spans] == [("probe", "maestro-web-eu")]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.postgres
def test_the_production_processes_each_export_their_part_of_the_trace_under_their_own_name(
        tenant, operator_token, collector, maestro_processes):
    import urllib.request

    from maestro.queue import Queue, _redis, queue_name, wake_markers

    # given: bin/web, bin/worker and bin/scheduler, all exporting to the collector
    make_workflow(tenant)
    purge(*(queue_name(kind) for kind in Queue))
    markers = _redis(settings_broker())
    for key in markers.scan_iter(wake_markers()):
        markers.delete(key)
    port = free_port()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    # the web process exports only when its batch is full (512 spans) or it shuts down
    web = maestro_processes("bin/web", MAESTRO_PORT=str(port), **{**env, "OTEL_BSP_SCHEDULE_DELAY": "600000"})
    maestro_processes("bin/worker", **env)
    maestro_processes("bin/scheduler", **env)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200
        except OSError:
            return False

    wait_for(answers)

    # when: a run is started over HTTP
    request = urllib.request.Request(f"{base}{M}/runs", data=json.dumps({"workflow": "traced"}).encode(),
                                     headers={"Authorization": f"Bearer {operator_token}",
                                              "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        status, run_id = response.status, json.loads(response.read())["id"]
    wait_for(lambda: finished(run_id))
    wait_for(lambda: len(collector.named(STEP)) == 4 and bool(collector.named("apply_async/ledger.sweep"))
             and bool(collector.named("run/ledger.sweep")))
    held = [s for s in collector.spans if s.service == "maestro-web"]
    os.killpg(web.pid, signal.SIGTERM)  # as the orchestrator stops a pod
    web.wait(timeout=30)

    # then: the web's request (under uvicorn, through the ASGI handler) is the root of the steps' trace
    spans = list(collector.spans)
    by_id = {s.span_id: s for s in spans}
    [server] = [s for s in spans if s.kind == "SERVER" and s.name == "POST api/maestro/runs"]
    steps = collector.named(STEP)
    assert (status, Run.objects.get(pk=run_id).status) == (201, "succeeded")
    assert (server.service, server.parent_id, server.attributes["http.status_code"]) == ("maestro-web", None, 201)
    assert held == []  # the web's spans arrived as it shut down, not before
    # its queries (psycopg, through the connection pool) are children of the request
    assert any(s.service == "maestro-web" and s.attributes.get("db.system") == "postgresql"
               and s.parent_id == server.span_id for s in spans)
    assert {s.service for s in steps} == {"maestro-worker"}
    assert_the_dag(steps, by_id, server)
    # the probes are not traced
    assert [s for s in spans if s.kind == "SERVER" and "healthz" in s.name] == []
    # the scheduler's periodic jobs: each a trace of its own, sent by the scheduler, run by a worker
    sweep = collector.named("run/ledger.sweep")[0]
    assert (sweep.service, by_id[sweep.parent_id].name, by_id[sweep.parent_id].service) == (
        "maestro-worker", "apply_async/ledger.sweep", "maestro-scheduler")
    assert by_id[sweep.parent_id].parent_id is None
    assert {r["service.name"] for r in collector.resources} == {"maestro-web", "maestro-worker", "maestro-scheduler"}
