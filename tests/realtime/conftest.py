"""Fixtures for the realtime tests.

``channel_layer`` runs a test on every channel layer the environment offers: the in-memory
layer always, and channels_redis as well when MAESTRO_REDIS_URL is set (with this run's
MAESTRO_CHANNELS_PREFIX, flushed before and after), so one PostgreSQL + Redis run covers both.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing.websocket import WebsocketCommunicator
from django.db import connections

from maestro.asgi import application

REDIS_URL = os.environ.get("MAESTRO_REDIS_URL", "")
LAYERS = ["memory", "redis"] if REDIS_URL else ["memory"]

postgres_only = pytest.mark.skipif(
    os.environ.get("MAESTRO_DATABASE_URL", "").split(":", 1)[0] not in ("postgres", "postgresql"),
    reason="needs PostgreSQL (MAESTRO_DATABASE_URL)",
)


def _layer_config(settings: Any, kind: str) -> dict[str, Any]:
    if kind == "memory":
        return {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    configured = settings.CHANNEL_LAYERS["default"]
    assert "redis" in configured["BACKEND"].lower(), configured  # MAESTRO_REDIS_URL picks a Redis layer
    return configured


async def _fresh_layer(settings: Any, kind: str) -> AsyncIterator[Any]:
    settings.CHANNEL_LAYERS = {"default": _layer_config(settings, kind)}
    channel_layers.backends = {}  # a fresh layer per test: no groups of earlier tests' consumers
    layer = get_channel_layer()
    await layer.flush()
    if kind == "redis" and hasattr(layer, "connection"):
        # flush() closed the pools; open one now so a consumer's first receive is not the
        # one connecting (redis-py cancels a half-open connection only after a timeout).
        await layer.group_discard("warmup", "warmup.channel")
    yield layer
    await layer.flush()
    channel_layers.backends = {}
    # Service calls and consumers ran in asgiref's sync thread; its connections must not
    # outlive the test (PostgreSQL refuses to drop a test database that has sessions).
    await sync_to_async(connections.close_all)()


@pytest.fixture(params=LAYERS)
async def channel_layer(request: pytest.FixtureRequest, settings: Any) -> AsyncIterator[Any]:
    """Every layer this environment offers: for delivery, ordering and gap filling, where
    the layers differ (capacity, expiry, cross-process transport)."""
    async for layer in _fresh_layer(settings, request.param):
        yield layer


@pytest.fixture
async def configured_layer(settings: Any) -> AsyncIterator[Any]:
    """The layer the settings pick (Redis when MAESTRO_REDIS_URL is set): for behaviour
    that does not depend on the transport (authentication, message parsing)."""
    async for layer in _fresh_layer(settings, LAYERS[-1]):
        yield layer


@pytest.fixture
async def redis_layer(settings: Any) -> AsyncIterator[Any]:
    if not REDIS_URL:
        pytest.skip("needs the Redis channel layer (MAESTRO_REDIS_URL)")
    async for layer in _fresh_layer(settings, "redis"):
        yield layer


@pytest.fixture
async def memory_layer(settings: Any) -> AsyncIterator[Any]:
    """The in-memory layer, whose groups a test can inspect."""
    async for layer in _fresh_layer(settings, "memory"):
        yield layer


@pytest.fixture(autouse=True)
def _ledger_sequencer_not_poked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger sequencer announces ``ledger:checkpoint`` events of its own, asynchronously
    (eagerly after each commit without a broker, or on whichever worker reads the shared
    Redis broker), which would interleave with the exact streams these tests assert and
    would hand this test database's tenant ids to other processes' workers. Intake rows are
    still written; only the after-commit poke is skipped."""
    import ledger.services

    monkeypatch.setattr(ledger.services, "sequencer_poke_on_commit", lambda *, tenant_ids: None)


class Client:
    """A WebSocket client of ``maestro.asgi.application`` speaking JSON."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.comm = communicator
        self.hello: dict[str, Any] = {}

    async def send(self, message: Any) -> None:
        await self.comm.send_to(text_data=json.dumps(message) if not isinstance(message, str) else message)

    async def recv(self, timeout: float = 3) -> dict[str, Any]:
        return json.loads(await self.comm.receive_from(timeout=timeout))

    async def recv_many(self, n: int, timeout: float = 3) -> list[dict[str, Any]]:
        return [await self.recv(timeout) for _ in range(n)]

    async def recv_until(self, kind: str, timeout: float = 3) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Messages before the first of type ``kind``, and that one."""
        before = []
        while True:
            message = await self.recv(timeout)
            if message.get("type") == kind:
                return before, message
            before.append(message)

    async def nothing(self, timeout: float = 0.15) -> bool:
        return await self.comm.receive_nothing(timeout=timeout)

    async def close(self) -> None:
        await self.comm.disconnect()


def communicator(path: str = "/ws", *, token: str | None = None, headers: list[tuple[str, str]] | None = None,
                 client_addr: tuple[str, int] | None = None,
                 subprotocols: list[str] | None = None) -> WebsocketCommunicator:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or [])]
    if token is not None:
        raw.append((b"authorization", f"Bearer {token}".encode()))
    comm = WebsocketCommunicator(application, path, headers=raw, subprotocols=subprotocols)
    if client_addr is not None:
        comm.scope["client"] = client_addr
    return comm


async def connect(path: str = "/ws", **kw: Any) -> Client:
    """Connects and reads the ``connected`` greeting; fails the test on any other outcome."""
    client = Client(communicator(path, **kw))
    accepted, _ = await client.comm.connect(timeout=5)
    assert accepted
    client.hello = await client.recv()
    assert client.hello["type"] == "connected", client.hello
    return client


async def refused_with(comm: WebsocketCommunicator) -> int:
    """The close code of a connection the server accepts and then closes."""
    accepted, _ = await comm.connect(timeout=5)
    assert accepted
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await comm.disconnect()
    return int(message["code"])


def in_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Runs sync service code the way a view does: in a thread, committing before returning."""
    return sync_to_async(fn, thread_sensitive=True)


async def settle() -> None:
    # Lets on-commit broadcasts that are in flight reach the layer before a negative check.
    await asyncio.sleep(0.02)


class HeldBroadcasts:
    """Stands in for the network between a committing process and the channel layer: holds
    each commit's broadcast so a test can lose it, delay it or reorder it. The consumer
    under test is the real one."""

    def __init__(self) -> None:
        self.commits: list[list[tuple[str, dict[str, Any]]]] = []
        self.holding = False

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """Everything held so far, flattened in send order, and forgets it."""
        messages = [m for commit in self.commits for m in commit]
        self.commits = []
        return messages

    async def release(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        layer = get_channel_layer()
        for group, message in messages:
            await layer.group_send(group, message)


@pytest.fixture
def held_broadcasts(monkeypatch: pytest.MonkeyPatch) -> HeldBroadcasts:
    from realtime import broadcast

    held = HeldBroadcasts()
    real_send = broadcast._send

    def send(messages: list[tuple[str, dict[str, Any]]]) -> None:
        if held.holding:
            held.commits.append(messages)
        else:
            real_send(messages)

    monkeypatch.setattr(broadcast, "_send", send)
    return held
