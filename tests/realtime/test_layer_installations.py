"""Two Maestro installations may share one Redis server: Redis pub/sub ignores the database
number, so the channel layer's names must differ between installations whatever Redis
database and MAESTRO_CHANNELS_PREFIX they are given, while every process of one
installation (web, worker, scheduler; now and after a restart) keeps sharing events."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.utils.module_loading import import_string

from realtime.broadcast import MESSAGE_TYPE
from realtime.groups import tenant_group
from tests.realtime.conftest import REDIS_URL, postgres_only

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, postgres_only,
              pytest.mark.skipif(not REDIS_URL, reason="needs Redis (MAESTRO_REDIS_URL)")]

ROOT = Path(__file__).resolve().parents[2]
GROUP = tenant_group(1)


def _redis_url(db: int) -> str:
    parts = urlsplit(REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def _installation(settings: Any, db: int) -> Any:
    """The channel layer one process of an installation configures for itself: Maestro's own
    CHANNEL_LAYERS setting (this run's MAESTRO_CHANNELS_PREFIX), on Redis database ``db``."""
    configured = settings.CHANNEL_LAYERS["default"]
    config = {**configured["CONFIG"], "hosts": [_redis_url(db)]}
    return import_string(configured["BACKEND"])(**config)


async def _listen(layer: Any) -> str:
    channel: str = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    return channel


async def _received(layer: Any, channel: str, until: str) -> list[str]:
    """What reached ``channel``, in order, up to the message ``until`` (which its own
    installation sends last, so anything crossing over arrives before it)."""
    got = []
    while not got or got[-1] != until:
        message = await asyncio.wait_for(layer.receive(channel), 10)
        got.append(message["from"])
    return got


async def _send(layer: Any, sender: str) -> None:
    await layer.group_send(GROUP, {"type": MESSAGE_TYPE, "events": [], "from": sender})


async def _close(*layers: Any) -> None:
    for layer in layers:
        await layer.flush()
    await sync_to_async(connections.close_all)()


async def test_installations_on_two_redis_databases_with_one_prefix_do_not_see_each_other(settings):
    # given: installations A and B on Redis databases 12 and 13 of one server, same prefix
    a, b = _installation(settings, 12), _installation(settings, 13)
    a_channel, b_channel = await _listen(a), await _listen(b)

    # when: each sends to the same group name, A last
    await _send(a, "a")
    await _send(b, "b")
    await _send(b, "b-last")
    await _send(a, "a-last")

    # then: each received only its own installation's messages
    assert await _received(a, a_channel, "a-last") == ["a", "a-last"]
    assert await _received(b, b_channel, "b-last") == ["b", "b-last"]
    await _close(a, b)


def _another_database_holds(key: str) -> None:
    from realtime.models import Installation

    Installation.objects.update_or_create(pk=1, defaults={"key": key})


async def test_installations_on_one_redis_database_with_one_prefix_but_two_databases_do_not_meet(settings):
    # given: A started against its database; B uses the same Redis database and prefix but
    # another PostgreSQL database, whose installation id differs
    await sync_to_async(_another_database_holds)("a0a0a0a0a0a0a0a0")
    a = _installation(settings, 12)
    a_channel = await _listen(a)
    await sync_to_async(_another_database_holds)("b1b1b1b1b1b1b1b1")
    b = _installation(settings, 12)
    b_channel = await _listen(b)

    # when
    await _send(a, "a")
    await _send(b, "b")
    await _send(b, "b-last")
    await _send(a, "a-last")

    # then
    assert await _received(a, a_channel, "a-last") == ["a", "a-last"]
    assert await _received(b, b_channel, "b-last") == ["b", "b-last"]
    await _close(a, b)


OTHER_PROCESS = """
import sys
import django
django.setup()
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from realtime.broadcast import MESSAGE_TYPE
from realtime.groups import tenant_group
async_to_sync(get_channel_layer().group_send)(tenant_group(1), {"type": MESSAGE_TYPE, "events": [],
                                                                "from": sys.argv[1]})
"""


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


async def _other_process_sends(sender: str) -> None:
    """A separate OS process of the same installation (a worker, the scheduler), configured
    from the environment as those are: same database, same Redis URL, same prefix."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "maestro.settings", "MAESTRO_ENV": "test",
           "MAESTRO_DATABASE_URL": _database_url(), "MAESTRO_REDIS_URL": _redis_url(12),
           "MAESTRO_LOG_LEVEL": "ERROR"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", OTHER_PROCESS, sender, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()


async def test_the_processes_of_one_installation_share_events_across_restarts(settings):
    # given: a web process of the installation listening
    web = _installation(settings, 12)
    channel = await _listen(web)

    # when: two other processes of it send, one after the other (the second as after a restart)
    await _other_process_sends("worker")
    await _other_process_sends("worker, restarted")
    await _send(web, "web")

    # then
    assert await _received(web, channel, "web") == ["worker", "worker, restarted", "web"]
    await _close(web)
