"""Jobs, the Maestro way (STYLE "Jobs"): every Celery job is declared with :func:`job` (a
stable ``name=``, late acknowledgement, time limits) in an app's ``jobs.py``, and enqueued by
that name with :func:`enqueue_on_commit`, so a service never imports the jobs that call it.
Without a broker (the embedded default) a job runs in-process, right after the commit.

Also the queue's own health, for ``/readyz`` and the health snapshot: is the broker
reachable, and do workers answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from celery import shared_task
from django.db import transaction

from maestro.celery import app

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def job(name: str, **options: Any) -> Callable[[F], F]:
    """``@job("ledger.archive", soft_time_limit=60)``: a Celery job with a stable name,
    acknowledged after it ran (a worker that dies mid-job leaves it for another), results
    ignored. Options are Celery's task options."""
    options = {"ignore_result": True, "acks_late": True, **options}
    return shared_task(name=name, **options)


def registered(name: str) -> Any:
    # The jobs modules are discovered lazily; a process that only enqueues must import them.
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


def _enqueue_quietly(name: str, args: tuple[Any, ...]) -> None:
    try:
        enqueue(name, *args)
    except LookupError:
        raise
    except Exception:
        log.warning("could not enqueue job", exc_info=True, extra={"event": "queue.enqueue_failed", "job": name})


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
