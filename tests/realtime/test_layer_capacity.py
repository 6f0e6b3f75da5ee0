"""A consumer that falls behind: its inbox holds MAESTRO_WS_CHANNEL_CAPACITY messages; beyond,
the oldest is dropped, counted in /metrics and logged, and the newest still arrives (so the
consumer sees the gap in seq and reads the dropped events from the event log)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.utils.module_loading import import_string
from prometheus_client import REGISTRY

from realtime.layers import DEFAULT_CAPACITY, Inbox
from tests.realtime.conftest import REDIS_URL, postgres_only

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, postgres_only,
              pytest.mark.skipif(not REDIS_URL, reason="needs Redis (MAESTRO_REDIS_URL)")]
DROPPED = "maestro_websocket_messages_dropped_total"


def dropped_total() -> float:
    return REGISTRY.get_sample_value(DROPPED) or 0.0


def test_the_capacity_is_configured_for_a_thousand_clients(settings):
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] == DEFAULT_CAPACITY == 1000


def test_a_full_inbox_drops_its_oldest_messages_counts_and_logs_them_and_keeps_the_newest(settings, caplog):
    configured = settings.CHANNEL_LAYERS["default"]
    layer = import_string(configured["BACKEND"])(**{**configured["CONFIG"], "capacity": 5})
    before = dropped_total()

    async def scenario() -> tuple[list[int], Any]:
        channel = await layer.new_channel()
        await layer.group_add("capacity-test", channel)
        for n in range(20):  # nobody reads meanwhile
            await layer.group_send("capacity-test", {"type": "probe", "n": n})
        inbox = (await layer._loop_layer()).channels[channel]
        for _ in range(200):  # until every message has come back from Redis
            if inbox.dropped == 15:
                break
            await asyncio.sleep(0.05)
        got = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(5)]
        await layer.group_discard("capacity-test", channel)
        return got, inbox

    with caplog.at_level(logging.WARNING, logger="realtime.layers"):
        received, inbox = async_to_sync(scenario)()

    assert isinstance(inbox, Inbox) and inbox.maxsize == 5
    assert received == [15, 16, 17, 18, 19]
    assert dropped_total() - before == 15
    drops = [r for r in caplog.records if getattr(r, "event", "") == "realtime.message_dropped"]
    assert [getattr(r, "dropped", None) for r in drops] == [1]  # then one line per 100 more


def test_a_published_message_is_decoded_once_for_every_local_channel_it_reaches(settings):
    configured = settings.CHANNEL_LAYERS["default"]
    layer = import_string(configured["BACKEND"])(**configured["CONFIG"])

    async def scenario() -> list[Any]:
        channels = [await layer.new_channel() for _ in range(50)]
        for channel in channels:
            await layer.group_add("decode-once", channel)
        await layer.group_send("decode-once", {"type": "probe", "events": [{"seq": 1, "text": "{}"}]})
        got = [await asyncio.wait_for(layer.receive(channel), 5) for channel in channels]
        for channel in channels:
            await layer.group_discard("decode-once", channel)
        return got

    received = async_to_sync(scenario)()

    assert all(message == {"type": "probe", "events": [{"seq": 1, "text": "{}"}]} for message in received)
    assert len({id(message) for message in received}) == 1  # one decoded object, shared read-only
