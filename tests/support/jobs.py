"""Where the jobs a write publishes run, for tests that care."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from maestro.celery import app


@contextmanager
def celery_eager(value: bool) -> Iterator[None]:
    """Jobs run in-process (``True``, the embedded default) or go to the broker (``False``)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = value
    try:
        yield
    finally:
        app.conf.task_always_eager = before
