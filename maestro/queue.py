"""Jobs, the Maestro way (STYLE "Jobs"): every Celery job is declared with :func:`job` (a
stable ``name=``, its queue, late acknowledgement, time limits) in an app's ``jobs.py``, and
enqueued by that name with :func:`enqueue_on_commit`, so a service never imports the jobs that
call it. Without a broker (the embedded default) a job runs in-process, right after the commit.

Each kind of work has a broker queue of its own (:class:`Queue`), so periodic sweeps and bulk
archiving never wait behind a burst of workflow steps or sequencer wake-ups, nor those behind
them. A job that only needs to run *once more* after any number of triggers (the ledger
sequencer: "this tenant has new intake") is woken with :func:`wake`, which enqueues it only
when no wake-up for the same key is pending.

Also the queue's own health, for ``/readyz`` and the health snapshot: is the broker
reachable, and do workers answer."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

import redis
from celery import shared_task
from django.db import transaction

from maestro.celery import app
from maestro.deferred import Deferred

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class Queue(StrEnum):
    """Broker queues by kind. ``default`` is Celery's default queue (``CELERY_TASK_DEFAULT_QUEUE``,
    ``maestro``): workflow steps and any job not routed elsewhere; each other kind is
    ``<default>.<kind>`` (``maestro.sequencer`` …). ``bin/worker`` consumes all of them unless
    told otherwise (``MAESTRO_WORKER_QUEUES``)."""

    DEFAULT = "default"
    SEQUENCER = "sequencer"  # ledger sequencer wake-ups: at most one per tenant at a time
    PERIODIC = "periodic"  # what the scheduler enqueues: sweeps, archive runs, pruning, loop dispatch
    BULK = "bulk"  # long per-tenant work fanned out by periodic jobs (archiving)
    STEPS = "steps"  # workflow steps (orchestration.engine): late-acked, one message per step attempt
    LOOPS = "loops"  # autonomic loop ticks, dispatched by the periodic autonomic.dispatch


def queue_name(kind: Queue) -> str:
    default = str(app.conf.task_default_queue)
    return default if kind is Queue.DEFAULT else f"{default}.{kind}"


def all_queues() -> list[str]:
    return [queue_name(kind) for kind in Queue]


# job name -> its queue; read by Celery's routing (CELERY_TASK_ROUTES names :func:`route`).
_ROUTES: dict[str, Queue] = {}


def job(name: str, *, queue: Queue = Queue.DEFAULT, **options: Any) -> Callable[[F], F]:
    """``@job("ledger.archive", queue=Queue.PERIODIC, soft_time_limit=60)``: a Celery job with a
    stable name, on the queue of its kind, acknowledged after it ran (a worker that dies
    mid-job leaves it for another), results ignored. Options are Celery's task options."""
    _ROUTES[name] = queue
    options = {"ignore_result": True, "acks_late": True, **options}
    return shared_task(name=name, **options)


def route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> dict[str, str] | None:
    """Celery router: a job goes to the queue of its kind (``None``: Celery's default)."""
    kind = _ROUTES.get(name)
    return None if kind is None else {"queue": queue_name(kind)}


_discovery = threading.Lock()


def registered(name: str) -> Any:
    # The jobs modules are discovered lazily; a process that only enqueues must import them,
    # once: discovery walks every app again on each call (~17 ms), so a known job skips it.
    # Under a lock: Celery marks discovery done as it starts, so a second thread asking at the
    # same moment (a new web process's first commits) found the job missing.
    task = app.tasks.get(name)
    if task is not None:
        return task
    with _discovery:
        app.loader.import_default_modules()
    task = app.tasks.get(name)
    if task is None:
        raise LookupError(f"no job named {name!r} (jobs are declared with maestro.queue.job in <app>/jobs.py)")
    return task


def enqueue(name: str, *args: Any) -> None:
    """Now: through the broker, or in this process when there is none."""
    task = registered(name)
    if app.conf.task_always_eager:
        task.apply(args=args)
    else:
        task.apply_async(args=args)


def enqueue_on_commit(name: str, *args: Any) -> None:
    """Once the current transaction commits (at once outside one). A lost message (broker
    down) is logged, never raised into the committed write: the periodic sweeps catch up."""
    transaction.on_commit(partial(_enqueue_quietly, name, args))


def enqueue_later_on_commit(name: str, *args: Any, countdown: float = 0.0) -> None:
    """Like :func:`enqueue_on_commit`, but never in the committing thread: through the broker
    ``countdown`` seconds from now, or, in the embedded default, in this process's deferred
    thread after ``countdown`` (one pending run per job and arguments). Jobs that enqueue their
    own successors (workflow steps) use it, so a chain of any length neither nests eager runs
    (no recursion depth) nor holds the request that started it."""
    transaction.on_commit(partial(_enqueue_later_quietly, name, args, max(0.0, countdown)))


def _enqueue_later_quietly(name: str, args: tuple[Any, ...], countdown: float) -> None:
    try:
        task = registered(name)
        if app.conf.task_always_eager:
            _deferred.schedule((name, *args), countdown, partial(task.apply, args=args))
        else:
            task.apply_async(args=args, countdown=countdown or None)
    except LookupError:
        raise
    except Exception:
        log.warning("could not enqueue job", exc_info=True, extra={"event": "queue.enqueue_failed", "job": name})


def _enqueue_quietly(name: str, args: tuple[Any, ...]) -> None:
    try:
        enqueue(name, *args)
    except LookupError:
        raise
    except Exception:
        log.warning("could not enqueue job", exc_info=True, extra={"event": "queue.enqueue_failed", "job": name})


# --- wake-ups -------------------------------------------------------------------------------
# A pending wake-up's marker expires after this, in case its message was lost (the publishing
# process died between marker and publish, a queue was purged): the next trigger then enqueues
# again. So a tenant never has more than one wake-up per this many seconds waiting.
WAKE_TTL_SECONDS = 60
_deferred = Deferred()


def wake(name: str, key: int, *, embedded_delay: float | None = 0.0) -> bool:
    """Enqueue ``name(key)`` unless a wake-up of ``name`` for ``key`` is pending (enqueued and not
    yet started); ``True`` when this call enqueued one. The job must call :func:`woken` before
    it looks for work: whatever commits after that wakes a new run, whatever committed before
    it is seen by this one, so coalescing never strands work.

    With a broker the pending marker is a Redis key set only if absent, beside the messages it
    guards. In the embedded default the wake-up runs in this process's deferred thread after
    ``embedded_delay`` seconds, so the writes of that while share one run (``None``: here and
    now, as an eager job). Never raises into the committed write (a lost wake-up is caught by
    the periodic sweeps)."""
    task = registered(name)
    if app.conf.task_always_eager:
        if embedded_delay is None:
            _enqueue_quietly(name, (key,))
            return True
        return _deferred.schedule((name, key), embedded_delay, partial(task.apply, args=(key,)))
    try:
        client = _marker_store()
        if client is None:
            task.apply_async(args=(key,))
            return True
        marker = _marker(name, key)
        if not client.set(marker, "1", nx=True, ex=WAKE_TTL_SECONDS):
            return False
        try:
            task.apply_async(args=(key,))
        except Exception:
            client.delete(marker)
            raise
        return True
    except Exception:
        log.warning("could not wake job", exc_info=True, extra={"event": "queue.wake_failed", "job": name, "key": key})
        return False


def wake_on_commit(name: str, key: int, *, embedded_delay: float | None = 0.0) -> None:
    """:func:`wake` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(wake, name, key, embedded_delay=embedded_delay))


def woken(name: str, key: int) -> None:
    """Called by a woken job before it looks for work: the wake-up is no longer pending, so the
    next trigger enqueues a new one. (In-process the deferred thread clears it as the run starts.)"""
    if app.conf.task_always_eager:
        return
    client = _marker_store()
    if client is not None:
        client.delete(_marker(name, key))


def discard_deferred(*, wait: float = 10.0) -> int:
    """Drop the in-process wake-ups still waiting, after the one under way (a test's end)."""
    return _deferred.discard(wait=wait)


def run_deferred_now() -> int:
    """Run the in-process wake-ups that are waiting for their delay now, in this thread (at
    shutdown of the embedded default, so nothing committed waits for the next start)."""
    return _deferred.run_now()


def _marker(name: str, key: int | str) -> str:
    # The default queue's name namespaces deployments (and test runs) sharing one Redis.
    return f"maestro:wake:{app.conf.task_default_queue}:{name}:{key}"


def wake_markers() -> str:
    """A Redis pattern matching every pending wake-up marker of this deployment."""
    return _marker("*", "*")


def waiting(kind: Queue) -> int | None:
    """How many messages wait in a queue of the broker (not those a worker has taken); ``None``
    when that cannot be told (no broker, or not Redis)."""
    if app.conf.task_always_eager:
        return None
    client = _marker_store()
    if client is None:
        return None
    try:
        return int(client.llen(queue_name(kind)))
    except Exception:
        log.warning("could not read a queue's length", exc_info=True, extra={"event": "queue.length_failed"})
        return None


def _marker_store() -> redis.Redis | None:
    url = str(app.conf.broker_url or "")
    return _redis(url) if url.startswith(("redis://", "rediss://", "unix://")) else None


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


# --- health ---------------------------------------------------------------------------------
PING_TTL_SECONDS = 15.0
PING_TIMEOUT_SECONDS = 1.0
_ping_lock = threading.Lock()
_ping_cache: tuple[float, dict[str, Any]] | None = None


def broker_check() -> str:
    """For /readyz: ``in-process`` without a broker; ``ok`` when it accepts a connection;
    raises otherwise."""
    if app.conf.task_always_eager:
        return "in-process"
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def workers_status() -> dict[str, Any]:
    """How many workers answer a ping (cached per process for a few seconds, so a busy
    dashboard does not ping the broker on every request). In the embedded default the
    committing process runs the jobs, so there is exactly one."""
    global _ping_cache
    if app.conf.task_always_eager:
        return {"mode": "eager", "workers": 1}
    with _ping_lock:
        if _ping_cache and time.monotonic() - _ping_cache[0] < PING_TTL_SECONDS:
            return _ping_cache[1]
    try:
        with app.connection_for_write() as conn:
            replies = app.control.ping(timeout=PING_TIMEOUT_SECONDS, connection=conn) or []
        result: dict[str, Any] = {"mode": "broker", "workers": len(replies)}
    except Exception as exc:  # an unreachable broker is a finding, not a crash
        result = {"mode": "broker", "workers": 0, "error": type(exc).__name__}
    with _ping_lock:
        _ping_cache = (time.monotonic(), result)
    return result


def forget_worker_pings() -> None:
    global _ping_cache
    with _ping_lock:
        _ping_cache = None
