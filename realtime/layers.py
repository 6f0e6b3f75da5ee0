"""Maestro's channel layer: channels_redis's pub/sub layer, named per installation.

Redis pub/sub channels are global to a Redis server: the database number in the URL does not
separate them. Two installations sharing a server (staging and production, two teams) would
each receive the other's events if their names met, so the names are
``<MAESTRO_CHANNELS_PREFIX>.<installation key>.<redis db>.``: the installation key is a random
id kept in the database (:class:`realtime.models.Installation`), so every process of one
installation — web, worker, scheduler, before and after a restart — uses the same names, and
another installation (another database, or another Redis database, or another prefix) never
does. The key is read once per process, at the layer's first use.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import connection
from redis.asyncio.connection import parse_url

from realtime.services import installation_key


def installation_prefix(configured: str, key: str, redis_db: int) -> str:
    return f"{configured}.{key}.{redis_db}."


def redis_db_of(host: str | dict[str, Any]) -> int:
    if isinstance(host, dict):
        if "address" in host:
            return redis_db_of(host["address"])
        return int(host.get("db", 0))
    return int(parse_url(host).get("db", 0))


def _key_in_own_thread() -> str:
    # A thread of the default executor, not the request's: the commit that broadcasts may be
    # waiting for this very send in that thread. Its connection is not kept.
    try:
        return installation_key()
    finally:
        connection.close()


class RedisPubSubInstallationLayer(RedisPubSubChannelLayer):  # type: ignore[misc]  # channels_redis ships no types
    def __init__(self, *, hosts: list[Any], prefix: str = "maestro", **kwargs: Any) -> None:
        super().__init__(hosts=hosts, **kwargs)
        self.configured_prefix = prefix
        self.redis_db = redis_db_of(hosts[0])
        self.prefix: str | None = None

    async def _loop_layer(self) -> Any:
        if self.prefix is None:
            key = await sync_to_async(_key_in_own_thread, thread_sensitive=False)()
            self.prefix = installation_prefix(self.configured_prefix, key, self.redis_db)
            self._kwargs["prefix"] = self.prefix
        return self._get_layer()

    # The layer API, each resolving the names first (channels_redis proxies these by name).
    async def new_channel(self, prefix: str = "specific.") -> str:
        return str(await (await self._loop_layer()).new_channel(prefix))

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await (await self._loop_layer()).send(channel, message)

    async def receive(self, channel: str) -> dict[str, Any]:
        message: dict[str, Any] = await (await self._loop_layer()).receive(channel)
        return message

    async def group_add(self, group: str, channel: str) -> None:
        await (await self._loop_layer()).group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await (await self._loop_layer()).group_discard(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await (await self._loop_layer()).group_send(group, message)

    async def flush(self) -> None:
        await (await self._loop_layer()).flush()
