from __future__ import annotations

from dataclasses import dataclass

from realtime.models import Event, EventStream


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    head: int
    resync_required: bool


def event_stream_head_of(tenant_id: int) -> int:
    return EventStream.objects.filter(tenant_id=tenant_id).values_list("last_seq", flat=True).first() or 0


def events_after(*, tenant_id: int, after_seq: int, limit: int, upto_seq: int | None = None) -> EventPage:
    """Events with ``after_seq < seq <= min(head, upto_seq)`` in order, at most ``limit``.

    ``resync_required`` when the first of them is gone (pruned), or when ``after_seq`` is
    beyond the head (a client of another database): either way the client cannot be brought
    up to date event by event. Pruning only ever removes a prefix of a tenant's log
    (services.events_prune), so checking the first row is enough to prove there is no hole.
    """
    # Head first: every event up to it is committed, so the read below sees all of them.
    head = event_stream_head_of(tenant_id)
    if after_seq > head:
        return EventPage(events=[], head=head, resync_required=True)
    upto = head if upto_seq is None else min(head, upto_seq)
    if after_seq >= upto:
        return EventPage(events=[], head=head, resync_required=False)
    events = list(Event.objects.filter(tenant_id=tenant_id, seq__gt=after_seq, seq__lte=upto).order_by("seq")[:limit])
    if not events or events[0].seq != after_seq + 1:
        return EventPage(events=[], head=head, resync_required=True)
    return EventPage(events=events, head=head, resync_required=False)


def events_oldest_seq(tenant_id: int) -> int | None:
    return Event.objects.filter(tenant_id=tenant_id).order_by("seq").values_list("seq", flat=True).first()
