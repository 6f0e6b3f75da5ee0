import os
from contextvars import Token

from celery import Celery
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)
from django.db import close_old_connections

from maestro.core.context import current_request_id, new_request_id, request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")

app = Celery("maestro")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Jobs live in `jobs.py` modules: Maestro has a Task model, and `tasks.py` would confuse.
app.autodiscover_tasks(related_name="jobs")
# The domain app's parts with jobs of their own (``orchestration`` is one Django app).
app.autodiscover_tasks(["orchestration.autonomic"], related_name="jobs")

REQUEST_ID_HEADER = "maestro_request_id"


# Tracing (maestro/tracing.py) is set up in the process that runs the jobs: a prefork pool
# process after its fork, as the SDK requires (its export thread and connections are not
# shared with the parent); a pool that does not fork (solo, threads) in the worker itself.
@worker_process_init.connect
def _trace_pool_process(**_: object) -> None:
    from maestro import tracing

    tracing.configure(tracing.WORKER)


@worker_init.connect
def _trace_worker(sender: object = None, **_: object) -> None:
    from celery.concurrency import get_implementation

    from maestro import tracing

    pool = get_implementation(getattr(sender, "pool_cls", None) or app.conf.worker_pool)
    if pool.__module__ != "celery.concurrency.prefork":
        tracing.configure(tracing.WORKER)


@worker_process_shutdown.connect
def _flush_traces(**_: object) -> None:
    from maestro import tracing

    tracing.flush()  # a pool process ends with os._exit: the SDK's atexit flush would not run


@setup_logging.connect
def _keep_django_logging(**_: object) -> None:
    """A worker logs through Django's LOGGING alone (JSON lines, credentials redacted): with a
    receiver of this signal Celery configures no logging, where it would otherwise give the
    task loggers a plain handler of its own."""


@before_task_publish.connect
def _carry_request_id(headers: dict[str, object] | None = None, **_: object) -> None:
    """A job enqueued while handling a request carries that request's id (DESIGN §4)."""
    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


_tokens: dict[str, Token[str]] = {}


@task_prerun.connect
def _bind_request_id(task_id: str | None = None, task: object = None, **_: object) -> None:
    request = getattr(task, "request", None)
    request_id = getattr(request, REQUEST_ID_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        REQUEST_ID_HEADER)
    if getattr(request, "is_eager", False) and not request_id:
        return  # eager jobs run inside the request's context already
    if task_id:
        _tokens[task_id] = request_id_var.set(request_id or f"job-{new_request_id()}")


@task_postrun.connect
def _unbind_request_id(task_id: str | None = None, **_: object) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        request_id_var.reset(token)


@task_prerun.connect
@task_postrun.connect
def _connections_back_to_the_pool(task: object = None, **_: object) -> None:
    """Around each job (not an eager one, which runs inside its caller's): the job's database
    connection goes back to the pool, and one that broke is dropped (CELERY_DB_REUSE_MAX)."""
    if not getattr(getattr(task, "request", None), "is_eager", False):
        close_old_connections()
