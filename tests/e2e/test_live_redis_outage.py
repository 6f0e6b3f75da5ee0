"""A live bin/web through a Redis outage (a redis-server of the test's own, killed and restarted):
a WebSocket handshake while Redis is down is closed with 1013, not answered with HTTP 500; once
Redis is back the same process serves handshakes again, and a client that stayed connected gets
the first event committed after the restart, without a restart of the web process."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.factories import make_token
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def live_on_own_redis(request: pytest.FixtureRequest, redis_server: RedisServer,
                      monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setitem(os.environ, "MAESTRO_REDIS_URL", redis_server.url)
    yield request.getfixturevalue("live_asgi")
    if redis_server.proc is None:
        redis_server.start()


def _ws(base: str, token: str) -> ClientConnection:
    return connect(base.replace("http", "ws", 1) + "/ws", additional_headers={"Authorization": f"Bearer {token}"},
                   open_timeout=10)


def _post_project(base: str, token: str, name: str) -> int:
    request = urllib.request.Request(base + "/api/projects", method="POST", data=json.dumps({"name": name}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _names(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["type"], m["data"].get("name") or m["data"].get("action")) for m in messages]


def test_a_live_web_process_refuses_handshakes_while_redis_is_down_and_recovers_by_itself(
        live_on_own_redis, redis_server, tenant):
    # given: a client connected to a live bin/web, then Redis dies
    base = live_on_own_redis
    viewer = make_token(username="rita", tenant=tenant, role="viewer")
    operator = make_token(username="olivia", tenant=tenant, role="operator")
    with _ws(base, viewer) as stayed:
        head = json.loads(stayed.recv(timeout=10))["seq"]
        redis_server.kill()

        # when: a client tries to connect
        with _ws(base, viewer) as refused, pytest.raises(ConnectionClosed) as closed:
            refused.recv(timeout=10)

        # then: it is told to try again later
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013

        # when: Redis is back, and a project is created
        redis_server.start()
        assert _post_project(base, operator, "first after the restart") == 201

        # then: the client that stayed connected gets it, and new handshakes are served
        got = [json.loads(stayed.recv(timeout=15)) for _ in range(2)]
        assert _names(got) == [("audit:created", "project.create"), ("project:created", "first after the restart")]
        assert [m["seq"] for m in got] == [head + 1, head + 2]
        with _ws(base, viewer) as again:
            assert json.loads(again.recv(timeout=10))["type"] == "connected"
