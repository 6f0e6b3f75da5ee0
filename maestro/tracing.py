"""OpenTelemetry traces (issue #14): spans of Django requests, Celery jobs, psycopg queries and
Redis commands, exported over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT``.

Off unless that variable (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: then nothing is
imported beyond the API, no instrumentation is installed and the global tracer provider stays
the API's no-op one, so a request pays nothing. ``OTEL_SDK_DISABLED=true`` turns it off too.

Each process sets it up once, in the process that runs the work (docs/operations.md, "Traces"):
the web process as it imports its ASGI application (each uvicorn worker process imports it), a
Celery pool process after the fork (``worker_process_init``: the SDK's export thread and its
connections must not be shared with the parent; ``worker_init`` for the pools that do not fork),
the scheduler before it runs. The service name is the process's (``maestro-web``,
``maestro-worker``, ``maestro-scheduler``) unless ``OTEL_SERVICE_NAME`` or ``service.name`` in
``OTEL_RESOURCE_ATTRIBUTES`` names one; everything else the SDK reads from its own ``OTEL_*``
variables (resource attributes, sampler, batch sizes, exporter headers, timeout, compression).

A job carries the trace of whatever enqueued it: the Celery instrumentation writes the current
context into the message's headers (``traceparent``) and the worker continues it, so a run's
steps — also those a worker enqueues when their dependencies finish — and the ledger sequencing
of a request's writes are spans of the request's trace. Jobs enqueued on commit are published in
the committing thread, inside the request's span; the embedded default's deferred thread runs
its jobs in the context they were scheduled from (:func:`maestro.core.context.carried`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

WEB, WORKER, SCHEDULER = "maestro-web", "maestro-worker", "maestro-scheduler"
# Probes and scrapes every few seconds would be most of the traces; OTEL_PYTHON_DJANGO_EXCLUDED_URLS
# (or OTEL_PYTHON_EXCLUDED_URLS) replaces this list.
EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$,/health$"

_configured: str | None = None  # the service this process was set up as
_provider: TracerProvider | None = None  # the provider the instrumentations were given


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether traces are exported: an OTLP endpoint is set and the SDK is not disabled."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip())


def configure(service: str) -> bool:
    """Sets up tracing for this process as ``service`` when :func:`enabled`; ``True`` if it did.
    Once per process: a second call (another signal, a re-import) changes nothing."""
    global _configured
    if _configured is not None or not enabled():
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = tracer_provider(service)
    # The exporter and the batch processor read their settings from OTEL_EXPORTER_OTLP_* and OTEL_BSP_*.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    instrument(provider, web=service == WEB)
    _configured = service
    log.info("tracing on", extra={"event": "tracing.configured", "service": service})
    return True


def configured() -> str | None:
    """The service this process's traces are exported as, ``None`` when tracing is off."""
    return _configured


def flush(timeout_millis: int = 5000) -> None:
    """Exports the spans still waiting in this process's batch (a Celery pool process ends with
    ``os._exit``, which skips the SDK's own ``atexit`` flush)."""
    if _configured is None:
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush(timeout_millis)


def resource(service: str) -> Resource:
    """The SDK's resource from ``OTEL_RESOURCE_ATTRIBUTES`` / ``OTEL_SERVICE_NAME``, named
    ``service`` unless those name a service."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: service}))
    return detected


def tracer_provider(service: str, *, exporter: SpanExporter | None = None) -> TracerProvider:
    """A tracer provider for ``service`` (sampler from ``OTEL_TRACES_SAMPLER``); with ``exporter``,
    spans go to it as each ends (tests read them from an in-memory exporter)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=resource(service))
    provider.sampler = _inside_work(provider.sampler)  # before any tracer takes it
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def tracer(name: str) -> Tracer:
    """The tracer for Maestro's own spans (the engine's step executions): from the provider the
    instrumentations use, or the API's global one (a no-op one while tracing is off)."""
    from opentelemetry import trace

    return (_provider or trace.get_tracer_provider()).get_tracer(name)


def _inside_work(configured: Sampler) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` configures, except that a query or Redis command
    outside any request or job — a trace of one span: the broker's polling in a worker that does
    not fork, a step lease's heartbeat, a pool's connection check — is not recorded."""
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind, get_current_span

    class InsideWork(Sampler):
        def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: SpanKind | None = None,
                          attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:
            if kind is SpanKind.CLIENT and not get_current_span(parent_context).get_span_context().is_valid:
                return SamplingResult(Decision.DROP)
            return configured.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self) -> str:
            return f"InsideWork{{{configured.get_description()}}}"

    return InsideWork()


def instrument(provider: TracerProvider, *, web: bool) -> None:
    """Installs the instrumentations with ``provider``: Django's middleware (``web`` only, before
    Django's handler loads the middleware), Celery's publish and run signals, psycopg's connect
    and redis-py's commands; Maestro's own spans (:func:`tracer`) go to it too."""
    global _provider
    _provider = provider
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    if web:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        excluded = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS") or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")
        DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=excluded or EXCLUDED_URLS)
    CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)


def uninstrument() -> None:
    """Removes every instrumentation :func:`instrument` installed (tests)."""
    global _provider
    _provider = None
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    celery = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    for instrumentor in (DjangoInstrumentor(), celery, PsycopgInstrumentor(), RedisInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


class FlushedAtShutdown:
    """The web process's ASGI application, answering the server's lifespan messages: at shutdown
    it exports the spans still waiting in the batch. uvicorn ends a process by re-raising the
    SIGTERM it caught once it has shut down, so the SDK's ``atexit`` flush would never run and
    the last seconds of every web process's spans would be lost."""

    def __init__(self, app: Any, *, on_startup: Callable[[], None] = lambda: None) -> None:
        self.app = app
        self.on_startup = on_startup

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                flush()
                await send({"type": "lifespan.shutdown.complete"})
                return
