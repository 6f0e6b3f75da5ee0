"""Broadcast after commit — the only way events leave the process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from channels.layers import get_channel_layer
from django.db import transaction

from realtime import metrics
from realtime.groups import tenant_group
from realtime.models import Event

log = logging.getLogger(__name__)

MESSAGE_TYPE = "maestro.events"


class AccessChange(NamedTuple):
    """A commit took access away from a user (``user_id``) or one token (``token_id``) in the
    tenant; both None concerns every connection of the tenant."""

    tenant_id: int
    user_id: int | None = None
    token_id: int | None = None


def wire_text(envelope: Mapping[str, Any]) -> str:
    return json.dumps(envelope, separators=(",", ":"))


def wire_item(event: Event) -> dict[str, Any]:
    """One event as the consumers need it. The envelope travels encoded once, so a process
    with a thousand clients does not serialise it a thousand times."""
    return {"seq": event.seq, "event": event.type, "project_id": event.project_id, "old_stream": event.old_stream,
            "text": wire_text(event.envelope())}


def commit_messages(events: list[Event], access: Sequence[AccessChange] = ()) -> list[tuple[str, dict[str, Any]]]:
    """One channel-layer message per tenant per commit, its events in seq order: the fan-out
    cost (a layer receive and a consumer dispatch per client) is paid per commit, not per
    event, and a commit's events never arrive split. The commit's access changes ride in the
    same message, so no connection can get the events without them (a separate message could
    be lost, or overtaken by later commits' events)."""
    by_tenant: dict[int, list[Event]] = {change.tenant_id: [] for change in access}
    for event in events:
        by_tenant.setdefault(event.tenant_id, []).append(event)
    return [(tenant_group(tenant_id), {
        "type": MESSAGE_TYPE,
        "events": [wire_item(e) for e in sorted(items, key=lambda e: e.seq)],
        "access": [{"user_id": c.user_id, "token_id": c.token_id} for c in access if c.tenant_id == tenant_id],
    }) for tenant_id, items in by_tenant.items()]


def broadcast_on_commit(events: list[Event], *, access: Sequence[AccessChange] = ()) -> None:
    messages = commit_messages(events, access)
    transaction.on_commit(lambda: _send(messages))


class OldClient(Protocol):
    def reached(self, seq: int) -> asyncio.Future[None]: ...


# The old clients (the stream on `/`) had a change's event before the write's HTTP answer: the
# old server sent both from one handler, and its clients and tests rely on it. So a commit's
# broadcast waits, in the process that made it, until this process's old-clients connections
# of the tenant have written its events — at most OLD_CLIENTS_WAIT_SECONDS, so that a stuck
# client cannot hold writes. Connections of /ws, and of other processes, are not waited for.
OLD_CLIENTS_WAIT_SECONDS = 0.5
# Written first is not read first: the frame and the answer travel on two connections, and a
# client reading both in one poll may take the answer first. A few milliseconds between them
# (only while an old client of the tenant is connected here) make the old order hold.
OLD_CLIENTS_GRACE_SECONDS = 0.005
_old_clients: dict[str, set[OldClient]] = {}


def old_client_joined(group: str, client: OldClient) -> None:
    """Called on the serving loop, where the broadcast that waits for it runs."""
    _old_clients.setdefault(group, set()).add(client)


def old_client_left(group: str, client: OldClient) -> None:
    clients = _old_clients.get(group)
    if clients is not None:
        clients.discard(client)
        if not clients:
            del _old_clients[group]


async def _group_send_all(layer: Any, messages: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)
    waits = [client.reached(message["events"][-1]["seq"])
             for group, message in messages if any(item["old_stream"] for item in message["events"])
             for client in list(_old_clients.get(group, ()))]
    if waits:
        await asyncio.wait(waits, timeout=OLD_CLIENTS_WAIT_SECONDS)
        await asyncio.sleep(OLD_CLIENTS_GRACE_SECONDS)


# The loop that serves WebSockets in this process, if any (set by the consumer). Commits made
# in other threads (the embedded scheduler's, a job's, a shell's) hand their broadcast to it:
# the in-memory layer's queues belong to that loop and wake its consumers only from it, and
# a Redis layer reuses that loop's connection instead of one per commit.
_serving_loop: asyncio.AbstractEventLoop | None = None
# Otherwise one private loop thread per process (re-made after a fork: Celery's prefork pool).
_private: tuple[int, asyncio.AbstractEventLoop] | None = None
_private_lock = threading.Lock()
SEND_TIMEOUT_SECONDS = 10.0


def bind_serving_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _serving_loop
    _serving_loop = loop


def _private_loop() -> asyncio.AbstractEventLoop:
    global _private
    with _private_lock:
        if _private is None or _private[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="maestro-broadcast", daemon=True).start()
            _private = (os.getpid(), loop)
        return _private[1]


def _target_loop() -> asyncio.AbstractEventLoop:
    loop = _serving_loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        return loop
    return _private_loop()


def _send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = _target_loop()
        try:
            in_loop_thread = asyncio.get_running_loop() is loop
        except RuntimeError:
            in_loop_thread = False
        if in_loop_thread:  # would deadlock; sync services belong in sync_to_async threads
            raise RuntimeError("broadcast from the event loop's own thread")
        asyncio.run_coroutine_threadsafe(_group_send_all(layer, messages), loop).result(SEND_TIMEOUT_SECONDS)
    except Exception:  # a broadcast failure must never fail the committed write
        # Clients still get these events: a consumer fills any gap in seq from the event log.
        metrics.BROADCAST_FAILURES.inc()
        log.exception("broadcast failed", extra={"event": "realtime.broadcast_failed", "count": len(messages)})
