"""Broadcast after commit — the only way events leave the process."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from realtime.groups import tenant_group
from realtime.models import Event

log = logging.getLogger(__name__)


def broadcast_on_commit(events: list[Event]) -> None:
    payloads = [(e.tenant_id, e.envelope(), e.project_id) for e in events]
    transaction.on_commit(lambda: _send(payloads))


def _send(payloads: list[tuple[int, dict, str]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        send = async_to_sync(layer.group_send)
        for tenant_id, envelope, project_id in payloads:
            send(tenant_group(tenant_id), {"type": "maestro.event", "envelope": envelope, "project_id": project_id})
    except Exception:  # a broadcast failure must never fail the committed write
        # Clients still get these events: a consumer fills any gap in seq from the event log.
        log.exception("broadcast failed", extra={"event": "realtime.broadcast_failed"})
