"""Resume after a dropped connection, resync after pruning, and the consumer filling gaps
from the event log when the channel layer loses or reorders broadcasts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import connect, in_thread, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]


@pytest.fixture
async def token(tenant) -> str:
    return await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")


def _projects(tenant: Any, *names: str) -> list[Any]:
    from orchestration.work.services.projects import project_create

    return [project_create(tenant=tenant, actor=SYSTEM, name=n) for n in names]


async def _make(tenant: Any, *names: str) -> list[Any]:
    return await in_thread(_projects)(tenant, *names)


def _logged(tenant: Any, after: int) -> list[dict[str, Any]]:
    from realtime.models import Event

    return [e.envelope() for e in Event.objects.filter(tenant=tenant, seq__gt=after).order_by("seq")]


def _prune_upto(tenant: Any, seq: int) -> None:
    from realtime.models import Event

    Event.objects.filter(tenant=tenant, seq__lte=seq).delete()


async def test_resume_after_a_dropped_connection_replays_exactly_the_missed_events(tenant, token):
    # given: a client that saw some events, then lost its connection
    first = await connect("/ws", token=token)
    await _make(tenant, "Seen")
    seen = await first.recv_many(2)
    last = seen[-1]["seq"]
    await first.close()
    await _make(tenant, "Missed 1", "Missed 2")

    # when
    second = await connect("/ws", token=token)
    await second.send({"type": "resume", "afterSeq": last})

    # then: the missed events in order, the resumed marker, then live ones, no duplicates
    replayed, resumed = await second.recv_until("resumed")
    missed = await in_thread(_logged)(tenant, last)
    assert replayed == missed
    assert [m["seq"] for m in replayed] == [last + 1, last + 2, last + 3, last + 4]
    assert [m["data"]["name"] for m in replayed if m["type"] == "project:created"] == ["Missed 1", "Missed 2"]
    assert resumed == {"type": "resumed", "seq": last + 4}
    await _make(tenant, "Live")
    live = await second.recv_many(2)
    assert [m["seq"] for m in live] == [last + 5, last + 6]
    assert live[1]["data"]["name"] == "Live"
    await settle()
    assert await second.nothing()
    await second.close()


async def test_resume_in_the_handshake_query(tenant, token):
    # given
    before = await in_thread(_make_and_head)(tenant)
    await _make(tenant, "Missed")

    # when
    client = await connect(f"/ws?token={token}&afterSeq={before}")

    # then: the greeting, then the replay, then resumed
    replayed, resumed = await client.recv_until("resumed")
    assert replayed == await in_thread(_logged)(tenant, before)
    assert resumed == {"type": "resumed", "seq": before + 2}
    await client.close()


def _make_and_head(tenant: Any) -> int:
    from realtime.selectors import event_stream_head_of

    _projects(tenant, "Before")
    return event_stream_head_of(tenant.pk)


async def test_bad_afterseq_in_the_handshake_is_an_error_and_the_stream_is_live(tenant, token):
    # when
    client = await connect(f"/ws?token={token}&afterSeq=-4")

    # then
    assert await client.recv() == {"type": "error", "code": "VALIDATION_ERROR",
                                   "message": "afterSeq must be a non-negative integer"}
    await _make(tenant, "Live")
    assert [m["type"] for m in await client.recv_many(2)] == ["audit:created", "project:created"]
    await client.close()


async def test_resume_after_live_events_sends_each_seq_once(tenant, token):
    # given: the client was away for two events, and live events reached it before it asked
    older = await in_thread(_make_and_head)(tenant)
    await _make(tenant, "While away")
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    await _make(tenant, "Live first")
    live = await client.recv_many(2)

    # when
    await client.send({"type": "resume", "afterSeq": older})

    # then: only what it had not been sent
    replayed, resumed = await client.recv_until("resumed")
    assert [m["seq"] for m in replayed] == [older + 1, older + 2]
    assert [m["seq"] for m in live] == [head + 1, head + 2]
    assert resumed == {"type": "resumed", "seq": head + 2}
    # and a second identical resume sends nothing again
    await client.send({"type": "resume", "afterSeq": older})
    assert await client.recv() == {"type": "resumed", "seq": head + 2}
    await client.close()


async def test_resume_from_a_pruned_seq_requires_resync(tenant, token):
    # given: the events after seq `from_seq` were pruned
    from_seq = await in_thread(_make_and_head)(tenant)
    await _make(tenant, "Pruned", "Kept")
    await in_thread(_prune_upto)(tenant, from_seq + 2)
    client = await connect("/ws", token=token)
    head = client.hello["seq"]

    # when
    await client.send({"type": "resume", "afterSeq": from_seq})

    # then: no partial replay, a resync, and the stream continues above the head
    assert await client.recv() == {"type": "resync_required", "seq": head}
    await settle()
    assert await client.nothing()
    await _make(tenant, "After")
    assert [m["seq"] for m in await client.recv_many(2)] == [head + 1, head + 2]
    await client.close()


async def test_resume_from_a_seq_the_tenant_never_had_requires_resync(tenant, token):
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    await client.send({"type": "resume", "afterSeq": head + 1000})
    assert await client.recv() == {"type": "resync_required", "seq": head}
    await client.close()


async def test_resume_from_the_head_replays_nothing(tenant, token):
    client = await connect("/ws", token=token)
    await client.send({"type": "resume", "afterSeq": client.hello["seq"]})
    assert await client.recv() == {"type": "resumed", "seq": client.hello["seq"]}
    await client.close()


async def test_an_overtaking_broadcast_is_preceded_by_the_gap_from_the_log(tenant, token, held_broadcasts):
    # given: two commits whose broadcasts arrive in the wrong order (two processes)
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    held_broadcasts.holding = True
    await _make(tenant, "First", "Second")
    first, second = held_broadcasts.commits

    # when
    await held_broadcasts.release(second)
    got = await client.recv_many(4)
    await held_broadcasts.release(first)

    # then: in seq order, the first commit read from the log, and nothing twice
    assert [m["seq"] for m in got] == [head + 1, head + 2, head + 3, head + 4]
    assert got == await in_thread(_logged)(tenant, head)
    await settle()
    assert await client.nothing()
    await client.close()


async def test_a_lost_broadcast_is_filled_in_by_the_next_one(tenant, token, held_broadcasts):
    # given
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    held_broadcasts.holding = True
    await _make(tenant, "Lost")
    held_broadcasts.take()  # the channel layer dropped it (full or expired channel)
    held_broadcasts.holding = False

    # when
    await _make(tenant, "Delivered")

    # then
    got = await client.recv_many(4)
    assert [m["seq"] for m in got] == [head + 1, head + 2, head + 3, head + 4]
    assert [m["data"]["name"] for m in got if m["type"] == "project:created"] == ["Lost", "Delivered"]
    await client.close()


async def test_a_lost_last_broadcast_is_filled_in_by_a_ping(tenant, token, held_broadcasts):
    # given: the newest commit's broadcast was lost and nothing follows it
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    held_broadcasts.holding = True
    await _make(tenant, "Lost")
    held_broadcasts.take()
    await settle()
    assert await client.nothing()

    # when
    await client.send({"type": "ping"})

    # then
    got, pong = await client.recv_until("pong")
    assert got == await in_thread(_logged)(tenant, head)
    assert pong["seq"] == head + 2
    await client.close()


async def test_a_resume_that_overtakes_in_flight_broadcasts_sends_each_event_once(tenant, token, held_broadcasts):
    # given: committed events whose broadcasts are still on their way
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    held_broadcasts.holding = True
    await _make(tenant, "In flight")

    # when: the client resumes, then the broadcasts arrive
    await client.send({"type": "resume", "afterSeq": head})
    replayed, resumed = await client.recv_until("resumed")
    await held_broadcasts.release(held_broadcasts.take())

    # then
    assert [m["seq"] for m in replayed] == [head + 1, head + 2]
    assert resumed == {"type": "resumed", "seq": head + 2}
    await settle()
    assert await client.nothing()
    await client.close()


async def test_a_gap_that_was_pruned_meanwhile_requires_resync(tenant, token, held_broadcasts):
    # given: a lost broadcast whose events are pruned before the next one arrives
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    held_broadcasts.holding = True
    await _make(tenant, "Lost and pruned")
    held_broadcasts.take()
    held_broadcasts.holding = False
    await in_thread(_prune_upto)(tenant, head + 2)

    # when
    await _make(tenant, "Next")

    # then: told to resync at the head, never the partial stream
    assert await client.recv() == {"type": "resync_required", "seq": head + 4}
    await settle()
    assert await client.nothing()
    await client.close()
