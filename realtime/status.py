"""The stream's own status, for ``/readyz`` and the health snapshot: can this process hand
events to the channel layer, and how many clients does it serve."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from django.conf import settings

from realtime.metrics import WS_CLIENTS

PING_TTL_SECONDS = 15.0
_lock = threading.Lock()
_cache: tuple[float, dict[str, Any]] | None = None


def layer_check() -> str:
    """For /readyz: ``in-process`` without Redis (the embedded default's in-memory layer);
    ``ok`` when Redis answers; raises otherwise."""
    if not settings.REDIS_URL:
        return "in-process"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def layer_status() -> dict[str, Any]:
    """``{layer, reachable[, error]}``, cached per process for a few seconds (a busy dashboard
    must not ping Redis on every request)."""
    global _cache
    if not settings.REDIS_URL:
        return {"layer": "in-memory", "reachable": True}
    with _lock:
        if _cache and time.monotonic() - _cache[0] < PING_TTL_SECONDS:
            return _cache[1]
    try:
        layer_check()
        result: dict[str, Any] = {"layer": "redis", "reachable": True}
    except Exception as exc:  # an unreachable layer is a finding, not a crash
        result = {"layer": "redis", "reachable": False, "error": type(exc).__name__}
    with _lock:
        _cache = (time.monotonic(), result)
    return result


def websocket_clients() -> int:
    """Authenticated WebSocket clients connected to this process."""
    return int(list(WS_CLIENTS.collect())[0].samples[0].value)


def forget_layer_status() -> None:
    global _cache
    with _lock:
        _cache = None
