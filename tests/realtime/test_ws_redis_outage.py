"""The stream through a Redis outage, against a real redis-server this test starts, kills and
restarts, with Maestro's configured channel layer and the real consumer: a handshake while
Redis is down is refused with close code 1013 (try again later), never an error; once Redis is
back handshakes are served again, and events committed during the outage and the first ones
after it reach the clients that stayed connected, without waiting for another event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.db import connections

from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import REDIS_URL, communicator, connect, in_thread, refused_with
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis,
              pytest.mark.skipif(not REDIS_URL, reason="needs the Redis channel layer (MAESTRO_REDIS_URL)")]


@pytest.fixture
async def outage_layer(settings: Any, redis_server: RedisServer) -> AsyncIterator[Any]:
    """Maestro's configured channel layer, on the throwaway server."""
    configured = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**configured, "CONFIG": {**configured["CONFIG"],
                                                                    "hosts": [redis_server.url]}}}
    channel_layers.backends = {}
    layer = get_channel_layer()
    yield layer
    if redis_server.proc is None:
        redis_server.start()
    await layer.flush()
    channel_layers.backends = {}
    await sync_to_async(connections.close_all)()


def _make_project(tenant: Any, name: str) -> None:
    from orchestration.work.services.projects import project_create

    project_create(tenant=tenant, actor=SYSTEM, name=name)


def _names(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["type"], m["data"].get("name") or m["data"].get("action")) for m in messages]


async def test_a_handshake_while_redis_is_down_is_refused_with_1013_and_served_once_it_is_back(
        tenant, redis_server, outage_layer):
    # given: Redis is down
    token = await in_thread(make_token)(username="rita", tenant=tenant, role="viewer")
    redis_server.kill()

    # when: clients try to connect
    codes = [await refused_with(communicator("/ws", token=token)) for _ in range(3)]

    # then: each is told to try again later, cleanly
    assert codes == [1013, 1013, 1013]

    # when: Redis is back
    redis_server.start()
    client = await connect("/ws", token=token)
    await in_thread(_make_project)(tenant, "after the outage")

    # then: the handshake is served and live events reach it
    got = await client.recv_many(2, timeout=10)
    assert _names(got) == [("audit:created", "project.create"), ("project:created", "after the outage")]
    assert [m["seq"] for m in got] == [client.hello["seq"] + 1, client.hello["seq"] + 2]
    await client.close()


async def test_connected_clients_get_the_events_of_the_outage_and_the_first_after_the_restart(
        tenant, redis_server, outage_layer):
    # given: a client connected, then Redis dies and an event is committed meanwhile
    token = await in_thread(make_token)(username="rita", tenant=tenant, role="viewer")
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    redis_server.kill()
    await in_thread(_make_project)(tenant, "during the outage")

    # when: Redis restarts and one more event is committed
    redis_server.start()
    await in_thread(_make_project)(tenant, "first after the restart")

    # then: the client gets all of them, in order, without waiting for a later event
    got = await client.recv_many(4, timeout=15)
    assert _names(got) == [("audit:created", "project.create"), ("project:created", "during the outage"),
                           ("audit:created", "project.create"), ("project:created", "first after the restart")]
    assert [m["seq"] for m in got] == [head + 1, head + 2, head + 3, head + 4]
    assert await client.nothing()
    await client.close()
