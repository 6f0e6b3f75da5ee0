from __future__ import annotations

from orchestration.work.models import Session, SessionQueueItem


def queue_items(session: Session) -> list[SessionQueueItem]:
    """The session's queue, first in first."""
    return list(SessionQueueItem.objects.filter(session=session).order_by("id"))


def queue_next(session: Session) -> SessionQueueItem | None:
    """The next item to process: the first still queued."""
    queued = SessionQueueItem.objects.filter(session=session, status=SessionQueueItem.Status.QUEUED)
    return queued.order_by("id").first()
