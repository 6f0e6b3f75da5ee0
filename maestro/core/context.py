"""Request-scoped context (request id, actor, the current trace span) carried in contextvars, so
that log lines, audit rows, ledger entries and Celery jobs caused by a request can all name it."""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from opentelemetry import context as trace_context

T = TypeVar("T")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# 64: the width of the request_id columns of audit rows and events it is stored in.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(incoming: str) -> str:
    """The client's ``X-Request-ID`` when well-formed, else a new one."""
    return incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else new_request_id()


def current_request_id() -> str:
    return request_id_var.get()


@contextmanager
def bound_request_id(request_id: str) -> Iterator[str]:
    token = request_id_var.set(request_id)
    try:
        yield request_id
    finally:
        request_id_var.reset(token)


def carried(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn``, to be run later in another thread as if from here: with this moment's request id
    and trace context (the span that caused it is its parent). Only those two: the rest of the
    caller's context (its database connection, Django's locals) stays with the caller."""
    request_id = request_id_var.get()
    parent = trace_context.get_current()

    def run() -> T:
        token = trace_context.attach(parent)
        try:
            with bound_request_id(request_id):
                return fn()
        finally:
            trace_context.detach(token)

    return run
