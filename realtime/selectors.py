from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Min

from realtime.models import Event, EventStream


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    head: int
    resync_required: bool


def events_after(*, tenant_id: int, after_seq: int, limit: int) -> EventPage:
    """Events with ``seq > after_seq`` in order. ``resync_required`` when some of them were
    already pruned, so a client cannot silently miss events."""
    head = EventStream.objects.filter(tenant_id=tenant_id).values_list("last_seq", flat=True).first() or 0
    if after_seq >= head:
        return EventPage(events=[], head=head, resync_required=False)
    oldest = Event.objects.filter(tenant_id=tenant_id).aggregate(m=Min("seq"))["m"]
    if oldest is None or oldest > after_seq + 1:
        return EventPage(events=[], head=head, resync_required=True)
    events = list(Event.objects.filter(tenant_id=tenant_id, seq__gt=after_seq).order_by("seq")[:limit])
    return EventPage(events=events, head=head, resync_required=False)


def events_between(*, tenant_id: int, after_seq: int, upto_seq: int) -> list[Event]:
    return list(Event.objects.filter(tenant_id=tenant_id, seq__gt=after_seq, seq__lte=upto_seq).order_by("seq"))


def event_stream_head_of(tenant_id: int) -> int:
    return EventStream.objects.filter(tenant_id=tenant_id).values_list("last_seq", flat=True).first() or 0
