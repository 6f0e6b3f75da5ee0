"""The Redis broker transport the Celery processes use: kombu's, with one fault mended.

When Redis goes away under a running worker, Celery's consumer closes its connection to
reconnect; closing the channel first gives the messages the worker holds back to their queues
(``restore_unacked``), through a connection kombu has already let go of (``transport.client``
is ``None``). kombu 5.7 then fails with ``AttributeError: 'NoneType' object has no attribute
'hostname'`` instead of a connection error, which nothing catches, and ``bin/worker`` exits
with "Unrecoverable error". Here that case is the connection error it is: the close gives up
on the restore (the broker cannot be reached to take the messages anyway; Redis keeps them in
its unacked index, and the engine's reaper sends again the message of any step left waiting),
and the consumer reconnects as it does after any other broker outage.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection was closed (reconnecting)")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]  # kombu's stubs omit it


class Transport(kombu_redis.Transport):
    Channel = Channel
