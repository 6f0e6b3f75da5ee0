"""The web application's lifespan (what uvicorn sends each web process as it starts and stops):
at startup, what the process has loaded is frozen out of the cyclic collector's sight, the
URLconf included; at shutdown, the spans still waiting are exported (maestro.tracing)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process keeps collecting everything


def _lifespan(*messages: str) -> list[str]:
    from maestro.asgi import application

    incoming = [{"type": m} for m in messages]
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return incoming.pop(0)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    asyncio.run(application({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    return sent


def test_startup_freezes_what_is_loaded_and_shutdown_completes(unfrozen):
    from django.urls import clear_url_caches, get_resolver

    clear_url_caches()  # as in a fresh process: the URLconf not read yet
    assert gc.get_freeze_count() == 0
    assert _lifespan("lifespan.startup", "lifespan.shutdown") == ["lifespan.startup.complete",
                                                                  "lifespan.shutdown.complete"]
    # the URLconf was read (its views imported) before everything loaded was frozen
    assert "url_patterns" in vars(get_resolver())  # read (a cached property), its views imported
    frozen = gc.get_freeze_count()
    assert frozen > 10_000
    # what the process makes afterwards is collected as usual
    made_later = [[] for _ in range(1_000)]
    gc.collect()
    assert gc.get_freeze_count() == frozen and gc.is_tracked(made_later)
