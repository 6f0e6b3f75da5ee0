"""The session queue (DESIGN §4.1; the old server's queue routes, which the old CLI's
``maestro queue`` calls), with the old server's answers and messages."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from maestro.api.openapi import doc
from maestro.api.views import MaestroAPIView
from maestro.write_path.catalogue import Resource
from orchestration.work.api.serializers import QueueFailIn, QueuePushIn
from orchestration.work.models import Session, SessionQueueItem
from orchestration.work.representations import queue_item_repr, queue_repr, queue_stats
from orchestration.work.selectors.queue import queue_items, queue_next
from orchestration.work.selectors.sessions import session_get
from orchestration.work.services import queue as services


class QueueView(MaestroAPIView):
    resource_type = Resource.SESSION

    def queued_session(self, session_id: str) -> Session:
        session = session_get(tenant=self.access.tenant, session_id=session_id)
        services.require_queue(session)
        return session

    def next_of(self, session_id: str) -> dict[str, Any]:
        """What comes next after a finished item, as the old server said it."""
        upcoming = queue_next(session_get(tenant=self.access.tenant, session_id=session_id))
        return {"nextItem": queue_item_repr(upcoming) if upcoming else None, "hasMore": upcoming is not None}

    def finished(self, session_id: str, key: str, verb: str, item: SessionQueueItem) -> Response:
        after = self.next_of(session_id)
        then = f"Next: {after['nextItem']['taskId']}" if after["hasMore"] else "Queue is empty."
        return Response({"success": True, key: queue_item_repr(item), **after,
                         "message": f"{verb} {item.task_id}. {then}"})


class QueueStateView(QueueView):
    @doc(op="sessions_queue_get")
    def get(self, request: Request, session_id: str) -> Response:
        session = self.queued_session(session_id)
        items = queue_items(session)
        return Response({"queue": queue_repr(session, items), "stats": queue_stats(items)})


class QueueItemsView(QueueView):
    @doc(op="sessions_queue_items")
    def get(self, request: Request, session_id: str) -> Response:
        items = queue_items(self.queued_session(session_id))
        return Response({"items": [queue_item_repr(i) for i in items], "stats": queue_stats(items)})


class QueueTopView(QueueView):
    @doc(op="sessions_queue_top")
    def get(self, request: Request, session_id: str) -> Response:
        item = queue_next(self.queued_session(session_id))
        if item is None:
            return Response({"hasMore": False, "item": None, "message": "Queue is empty - all tasks processed"})
        return Response({"hasMore": True, "item": queue_item_repr(item)})


class QueueStartView(QueueView):
    @doc(op="sessions_queue_start")
    def post(self, request: Request, session_id: str) -> Response:
        item = services.queue_start(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor)
        if item is None:
            return Response({"success": True, "item": None, "empty": True,
                             "message": "Queue is empty — no items to process"})
        return Response({"success": True, "item": queue_item_repr(item),
                         "message": f"Started processing task {item.task_id}"})


class QueueCompleteView(QueueView):
    @doc(op="sessions_queue_complete")
    def post(self, request: Request, session_id: str) -> Response:
        item = services.queue_complete(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor)
        return self.finished(session_id, "completedItem", "Completed", item)


class QueueFailView(QueueView):
    @doc(QueueFailIn, op="sessions_queue_fail")
    def post(self, request: Request, session_id: str) -> Response:
        data = self.validated(QueueFailIn)
        item = services.queue_fail(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor,
                                   reason=data.get("reason") or "")
        return self.finished(session_id, "failedItem", "Failed", item)


class QueueSkipView(QueueView):
    @doc(op="sessions_queue_skip")
    def post(self, request: Request, session_id: str) -> Response:
        item = services.queue_skip(tenant=self.access.tenant, session_id=session_id, actor=self.access.actor)
        return self.finished(session_id, "skippedItem", "Skipped", item)


class QueuePushView(QueueView):
    @doc(QueuePushIn, op="sessions_queue_push")
    def post(self, request: Request, session_id: str) -> Response:
        data = self.validated(QueuePushIn)
        item = services.queue_push(tenant=self.access.tenant, session_id=session_id, task_id=data["taskId"],
                                   actor=self.access.actor)
        return Response({"success": True, "item": queue_item_repr(item)})
