"""Maestro's channel layer: channels_redis's pub/sub layer, named per installation.

Redis pub/sub channels are global to a Redis server: the database number in the URL does not
separate them. Two installations sharing a server (staging and production, two teams) would
each receive the other's events if their names met, so the names are
``<MAESTRO_CHANNELS_PREFIX>.<installation key>.<redis db>.``: the installation key is a random
id kept in the database (:class:`realtime.models.Installation`), so every process of one
installation — web, worker, scheduler, before and after a restart — uses the same names, and
another installation (another database, or another Redis database, or another prefix) never
does. The key is read once per process, at the layer's first use.

It also survives Redis going away (channels_redis alone answered handshakes with errors during
an outage and lost the first events after it):

- A channel is local to its process (Maestro sends only to groups), so creating one — the
  first thing a WebSocket handshake does — needs no Redis; joining a group does (Redis must
  answer a PING even when the group is subscribed already), and its failure is the
  consumer's to answer (close code 1013, realtime/consumers.py).
- A publish that meets a connection the restarted server closed is tried once more on a new one.
- The receiving task never dies: it keeps reconnecting, and once Redis has confirmed the
  subscriptions again it hands every local channel a ``maestro.layer_resumed`` message, on
  which a consumer reads what it missed from the event log (pub/sub kept nothing for it).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts
from django.db import connection
from redis.asyncio.connection import parse_url
from redis.exceptions import RedisError

from realtime.metrics import WS_DROPPED
from realtime.services import installation_key

log = logging.getLogger(__name__)

# What an unreachable Redis raises (refused, reset, timed out).
LAYER_ERRORS = (RedisError, OSError)
LAYER_RESUMED_TYPE = "maestro.layer_resumed"
# A handshake or a commit's broadcast never waits longer than this for a Redis connection.
CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.1
RECONNECT_SECONDS = 0.5
# Messages one consumer may have waiting (MAESTRO_WS_CHANNEL_CAPACITY): at a steady event rate
# a consumer keeping up holds a few; 1,000 clients × this bound is the most memory a burst takes.
DEFAULT_CAPACITY = 1000


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


class _Shard(RedisSingleShardConnection):  # type: ignore[misc]  # channels_redis ships no types
    channel_layer: _LoopLayer
    # Between losing Redis and Redis confirming the subscriptions again.
    lost = False

    async def publish(self, channel: str, message: bytes) -> None:
        try:
            await super().publish(channel, message)
        except LAYER_ERRORS:
            # After a Redis restart the pool's first connection is one the old server closed.
            # A publish repeated after an unclear failure is harmless: consumers drop seqs they had.
            await super().publish(channel, message)

    async def ping(self) -> None:
        for attempt in (1, 2):  # the second on a new connection, as for publish
            try:
                async with self._lock:
                    self._ensure_redis()
                    await self._redis.ping()
                return
            except LAYER_ERRORS:
                if attempt == 2:
                    raise

    async def subscribe(self, channel: str) -> None:
        try:
            await super().subscribe(channel)
        except LAYER_ERRORS:
            await super().subscribe(channel)

    async def _do_receiving(self) -> None:
        while True:
            try:
                if not (self._pubsub and self._pubsub.subscribed):
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                # Each read after a failure reconnects and re-subscribes (redis-py's on_connect).
                message = await self._pubsub.get_message(timeout=POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the receiving task must outlive any outage
                if not self.lost:
                    log.warning("channel layer lost Redis", extra={"event": "realtime.layer_lost",
                                                                   "error": type(exc).__name__})
                self.lost = True
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            if message is None:
                continue
            if message["type"] == "subscribe":
                if self.lost:  # Redis confirmed the re-subscription: publishes from now on arrive
                    self.lost = False
                    log.info("channel layer resumed", extra={"event": "realtime.layer_resumed"})
                    self.channel_layer.resumed()
            elif message["type"] == "message":
                self._receive_message(message)

    def _receive_message(self, message: dict[str, Any]) -> None:
        """Decodes a published message once for every local channel it reaches (the library
        decodes it again in each consumer's receive: 1,000 times an event for 1,000 clients).
        Consumers only read it."""
        name = message["channel"]
        name = name.decode() if isinstance(name, bytes) else name
        layer = self.channel_layer
        targets = [name] if name in layer.channels else [c for c in layer.groups.get(name, ()) if c in layer.channels]
        if targets:
            decoded = layer.channel_layer.deserialize(message["data"])
            for channel in targets:
                layer.channels[channel].put_nowait(decoded)


class Inbox(asyncio.Queue[Any]):
    """One consumer's waiting messages, bounded. When it is full the oldest message makes room
    for the newest, counted and logged: the newest always arrives, so the consumer sees the gap
    in ``seq`` and reads the dropped events from the event log (realtime/consumers.py)."""

    def __init__(self, channel: str, capacity: int) -> None:
        super().__init__(maxsize=capacity)
        self.channel = channel
        self.dropped = 0

    def put_nowait(self, item: Any) -> None:
        if self.full():
            self.get_nowait()
            self.dropped += 1
            WS_DROPPED.inc()
            if self.dropped == 1 or self.dropped % 100 == 0:  # every drop is in the count it logs
                log.warning("websocket consumer behind: its oldest message was dropped",
                            extra={"event": "realtime.message_dropped", "channel": self.channel,
                                   "dropped": self.dropped, "capacity": self.maxsize})
        super().put_nowait(item)


class _LoopLayer(RedisPubSubLoopLayer):  # type: ignore[misc]  # channels_redis ships no types
    def __init__(self, *, hosts: list[Any], capacity: int = DEFAULT_CAPACITY, **kwargs: Any) -> None:
        super().__init__(hosts=hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]
        self.capacity = capacity

    async def new_channel(self, prefix: str = "specific.") -> str:
        # Process-local: Maestro sends to groups only, and a handshake must not need Redis.
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = Inbox(channel, self.capacity)
        return channel

    async def group_add(self, group: str, channel: str) -> None:
        # Only while Redis answers: the group may be subscribed already (another client of the
        # tenant), and a client let in during an outage would get nothing live until its end.
        await self._get_shard(self._get_group_channel_name(group)).ping()
        await super().group_add(group, channel)

    def resumed(self) -> None:
        for queue in self.channels.values():
            queue.put_nowait({"type": LAYER_RESUMED_TYPE})


def _with_timeouts(host: str | dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = dict(host) if isinstance(host, dict) else {"address": host}
    entry.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_SECONDS)
    entry.setdefault("socket_timeout", COMMAND_TIMEOUT_SECONDS)
    return entry


class RedisPubSubInstallationLayer(RedisPubSubChannelLayer):  # type: ignore[misc]  # channels_redis ships no types
    def __init__(self, *, hosts: list[Any], prefix: str = "maestro", **kwargs: Any) -> None:
        super().__init__(hosts=[_with_timeouts(h) for h in hosts], **kwargs)
        self.configured_prefix = prefix
        self.redis_db = redis_db_of(hosts[0])
        self.prefix: str | None = None

    def deserialize(self, message: Any) -> Any:
        # Inboxes hold messages decoded once on arrival (_Shard._receive_message).
        return message if isinstance(message, dict) else super().deserialize(message)

    async def _loop_layer(self) -> Any:
        if self.prefix is None:
            key = await sync_to_async(_key_in_own_thread, thread_sensitive=False)()
            self.prefix = installation_prefix(self.configured_prefix, key, self.redis_db)
            self._kwargs["prefix"] = self.prefix
        return self._get_layer()

    def _get_layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        layer: _LoopLayer | None = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer

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
