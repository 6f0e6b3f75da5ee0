"""The consumer under an ASGI server's failure modes: a client that vanishes while the
server is sending, a handler that raises. Driven through ``maestro.asgi.application`` with a
minimal ASGI server loop, so the server's ``send`` can fail the way uvicorn's does."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from uvicorn.protocols.utils import ClientDisconnected

from maestro.asgi import application
from realtime.groups import tenant_group
from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import in_thread, settle

pytestmark = [pytest.mark.django_db(transaction=True)]


def _clients_gauge() -> float:
    from realtime.metrics import WS_CLIENTS

    return WS_CLIENTS.collect()[0].samples[0].value


class Server:
    """One WebSocket connection as an ASGI server sees it. After ``vanish()`` every send
    raises ClientDisconnected, as uvicorn does once the peer is gone."""

    def __init__(self, token: str) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.failed_sends = 0
        self.gone = False
        self.vanish_after: int | None = None  # vanish once this many frames were sent
        scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": "/ws", "raw_path": b"/ws",
                 "query_string": b"", "headers": [(b"authorization", f"Bearer {token}".encode())],
                 "subprotocols": [], "client": ("10.0.0.9", 40000), "server": ("maestro.test", 80)}
        self.task = asyncio.ensure_future(application(scope, self.inbox.get, self._send))

    async def _send(self, message: dict[str, Any]) -> None:
        if self.vanish_after is not None and len(self.texts()) >= self.vanish_after:
            self.gone = True
        if self.gone:
            self.failed_sends += 1
            raise ClientDisconnected()
        self.sent.append(message)

    def texts(self) -> list[dict[str, Any]]:
        return [json.loads(m["text"]) for m in self.sent if m["type"] == "websocket.send"]

    async def open(self) -> dict[str, Any]:
        await self.inbox.put({"type": "websocket.connect"})
        for _ in range(200):
            if self.texts():
                return self.texts()[0]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no greeting: {self.sent}")

    async def client_says(self, message: dict[str, Any]) -> None:
        await self.inbox.put({"type": "websocket.receive", "text": json.dumps(message)})

    def vanish(self) -> None:
        self.gone = True

    async def closed_by_client(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1006})
        await asyncio.wait_for(self.task, 5)


def _projects(tenant: Any, n: int) -> None:
    from orchestration.work.services.projects import project_create

    for i in range(n):
        project_create(tenant=tenant, actor=SYSTEM, name=f"P{i}")


def _members(layer: Any, group: str) -> set[str]:
    return set(layer.groups.get(group, {}))


async def test_live_events_to_a_vanished_client_are_dropped_quietly(tenant, memory_layer):
    # given: a connected client whose socket is gone before the server noticed
    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    before = _clients_gauge()
    server = Server(token)
    await server.open()
    assert _clients_gauge() == before + 1
    server.vanish()

    # when: events arrive for it
    await in_thread(_projects)(tenant, 2)
    await settle()

    # then: one failed send, then the consumer stops sending; it is still waiting for the
    # disconnect instead of having crashed
    assert server.failed_sends == 1
    assert not server.task.done()
    await server.closed_by_client()
    assert server.task.exception() is None
    assert _clients_gauge() == before
    assert _members(memory_layer, tenant_group(tenant.pk)) == set()


async def test_a_long_replay_stops_when_the_client_vanishes(tenant, memory_layer, monkeypatch):
    # given: more missed events than one replay page
    from realtime import consumers

    monkeypatch.setattr(consumers, "REPLAY_PAGE", 5)
    pages: list[int] = []
    real_events_after = consumers.events_after

    def counted(**kwargs: Any) -> Any:
        pages.append(kwargs["after_seq"])
        return real_events_after(**kwargs)

    monkeypatch.setattr(consumers, "events_after", counted)
    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    from realtime.selectors import event_stream_head_of

    start = await in_thread(event_stream_head_of)(tenant.pk)
    await in_thread(_projects)(tenant, 10)  # 20 events, four pages
    server = Server(token)
    await server.open()

    # when: the client asks for all of them and disappears after seven
    greeted = len(server.texts())
    server.vanish_after = greeted + 7
    await server.client_says({"type": "resume", "afterSeq": start})
    for _ in range(500):  # until the failed send (each page is read, then access re-checked)
        if server.failed_sends:
            break
        await asyncio.sleep(0.01)
    await settle()

    # then: the replay stopped at the first failed send instead of reading every page
    assert [m["seq"] for m in server.texts()[greeted:]] == list(range(start + 1, start + 8))
    assert server.failed_sends == 1
    assert pages == [start, start + 5]
    assert not server.task.done()
    await server.closed_by_client()
    assert server.task.exception() is None


async def test_a_handler_that_raises_still_releases_the_client(tenant, memory_layer, monkeypatch):
    # given: the event log is unreachable when the client pings
    from realtime import consumers

    def database_down(**kwargs: Any) -> Any:
        raise RuntimeError("database is down")

    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    before = _clients_gauge()
    server = Server(token)
    await server.open()
    assert _members(memory_layer, tenant_group(tenant.pk)) != set()
    monkeypatch.setattr(consumers, "events_after", database_down)

    # when
    await server.client_says({"type": "ping"})

    # then: the application ends with the error, and still leaves no trace of the client
    with pytest.raises(RuntimeError, match="database is down"):
        await asyncio.wait_for(server.task, 5)
    assert _clients_gauge() == before
    assert _members(memory_layer, tenant_group(tenant.pk)) == set()
