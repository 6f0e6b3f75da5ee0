"""The WebSocket stream (DESIGN §5): every event of the tenant, in ``seq`` order with no gap,
optionally narrowed by topics and project; ``resume`` replays what a client missed."""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from realtime import metrics
from realtime.auth import authenticate_scope
from realtime.groups import tenant_group
from realtime.selectors import event_stream_head_of, events_after, events_between

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
REPLAY_PAGE = 1000


def topic_matches(topics: list[str] | None, event_type: str) -> bool:
    if not topics:
        return True
    for topic in topics:
        if topic in ("*", event_type):
            return True
        if topic.endswith(":*") and event_type.startswith(topic[:-1]):
            return True
    return False


class EventStreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.access = await authenticate_scope(self.scope)
        await self.accept()
        if self.access is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.tenant_id = self.access.tenant.pk
        self.group = tenant_group(self.tenant_id)
        self.topics: list[str] | None = None
        self.project_id: str | None = None
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.last_seq = await database_sync_to_async(event_stream_head_of)(self.tenant_id)
        metrics.WS_CLIENTS.inc()
        self.counted = True
        await self.send_json({"type": "connected", "tenant": self.access.tenant.slug, "seq": self.last_seq,
                              "timestamp": int(time.time() * 1000)})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            metrics.WS_CLIENTS.dec()
            self.counted = False
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self._error("message must be a JSON object")
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong", "timestamp": int(time.time() * 1000)})
        elif kind == "subscribe":
            await self._subscribe(content)
        elif kind == "resume":
            after = content.get("afterSeq")
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                await self._error("afterSeq must be a non-negative integer")
                return
            await self._resume(after)
        else:
            await self._error(f"unknown message type {kind!r}")

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "code": "VALIDATION_ERROR", "message": message})

    async def _subscribe(self, content: dict[str, Any]) -> None:
        topics = content.get("topics")
        project_id = content.get("projectId")
        if topics is not None and (not isinstance(topics, list) or not all(isinstance(t, str) for t in topics)):
            await self._error("topics must be a list of strings")
            return
        if project_id is not None:
            if not isinstance(project_id, str):
                await self._error("projectId must be a string")
                return
            if not await database_sync_to_async(_project_visible)(self.tenant_id, project_id):
                await self.send_json({"type": "error", "code": "PROJECT_NOT_FOUND", "message": "Project not found"})
                return
        self.topics = topics or None
        self.project_id = project_id
        await self.send_json({"type": "subscribed", "topics": self.topics or ["*"], "projectId": project_id})

    async def _resume(self, after: int) -> None:
        cursor = after
        while True:
            page = await database_sync_to_async(events_after)(tenant_id=self.tenant_id, after_seq=cursor,
                                                              limit=REPLAY_PAGE)
            if page.resync_required:
                self.last_seq = max(self.last_seq, page.head)
                await self.send_json({"type": "resync_required", "seq": page.head})
                return
            for event in page.events:
                await self._deliver(event.envelope(), event.project_id)
            if not page.events:
                break
            cursor = page.events[-1].seq
        self.last_seq = max(self.last_seq, cursor)
        await self.send_json({"type": "resumed", "seq": self.last_seq})

    async def _deliver(self, envelope: dict[str, Any], project_id: str) -> None:
        if not topic_matches(self.topics, envelope["type"]):
            return
        if self.project_id and project_id and project_id != self.project_id:
            return
        await self.send_json(envelope)
        metrics.WS_DELIVERED.inc()

    async def maestro_event(self, message: dict[str, Any]) -> None:
        envelope = message["envelope"]
        seq = envelope["seq"]
        if seq <= self.last_seq:
            return  # already delivered by a resume
        if seq > self.last_seq + 1:
            # Broadcasts from different processes can overtake each other; the log has the gap.
            for event in await database_sync_to_async(events_between)(
                tenant_id=self.tenant_id, after_seq=self.last_seq, upto_seq=seq - 1
            ):
                await self._deliver(event.envelope(), event.project_id)
        self.last_seq = seq
        await self._deliver(envelope, message.get("project_id", ""))


def _project_visible(tenant_id: int, project_id: str) -> bool:
    from orchestration.models import Project

    return Project.objects.filter(tenant_id=tenant_id, id=project_id).exists()
