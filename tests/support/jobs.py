"""Where the jobs a write publishes run, for tests that care."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


def queue_of(name: str) -> str:
    """The broker queue Celery's own routing sends job ``name`` to."""
    from maestro.queue import registered

    route = app.amqp.router.route({}, name, task_type=registered(name))
    queue = route["queue"]
    return str(getattr(queue, "name", queue))


def _broker() -> Any:
    import redis

    return redis.Redis.from_url(app.conf.broker_url)


def queued(queue: str) -> list[tuple[str, list[Any]]]:
    """The messages waiting in a broker queue, oldest first, as (job name, args)."""
    client = _broker()
    try:
        return [_decode(raw) for raw in reversed(client.lrange(queue, 0, -1))]
    finally:
        client.close()


def run_next(queue: str) -> tuple[str, list[Any]] | None:
    """Take the oldest message off a broker queue and run its job here, as a worker would;
    ``None`` when the queue is empty."""
    from maestro.queue import registered

    client = _broker()
    try:
        raw = client.rpop(queue)
    finally:
        client.close()
    if raw is None:
        return None
    name, args = _decode(raw)
    registered(name).apply(args=args)
    return name, args


def purge(*queues: str) -> None:
    client = _broker()
    try:
        if queues:
            client.delete(*queues)
    finally:
        client.close()


def _decode(raw: bytes) -> tuple[str, list[Any]]:
    message = json.loads(raw)
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return message["headers"]["task"], list(args)
