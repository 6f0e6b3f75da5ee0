"""Django's PostgreSQL backend (``ENGINE = "maestro.db"``, set by the settings for PostgreSQL)
with three changes: how a pooled connection is checked as it is handed out, how timestamps are
read, and no connection parameters worked out again for a connection the pool hands out.

psycopg_pool's own check (what ``CONN_HEALTH_CHECKS`` turns on) sends a query each time a
connection leaves the pool: one more round trip on every request, a third of a task read's.
Here a connection that went back into the pool in good order within the last
``RECENT_SECONDS`` goes out unchecked (the pool itself discards one that comes back broken),
and any other is checked as before and replaced when broken — so a database restart or
failover, which takes longer than that, still costs no failed request.

Timestamps: Django reads every ``timestamptz`` through a loader of its own, a subclass of
psycopg's pure-Python one, so that values come back in the connection's time zone; with psycopg's
C build installed that replaces the C parser (6 µs a value against 1.4 here, a sixth of a task
read's CPU went to it). Where that zone is UTC (``USE_TZ`` and no ``TIME_ZONE`` for the
database, as Maestro runs) and the C loader is there, :class:`UtcTimestamptzLoader` hands each
value to psycopg's C loader, which gives the same datetimes (UTC, ``datetime.timezone.utc``)
and refuses the same values (``infinity``, years before 1).

Connection parameters: Django works them out (an adapters map built anew) every time a request
takes a connection, though a pooled connection is the pool's and ignores them; once the pool
exists its own are returned."""

from __future__ import annotations

import datetime
import threading
import time
import weakref
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg import Connection
from psycopg.abc import AdaptContext
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool

RECENT_SECONDS = 1.0
_returned: weakref.WeakKeyDictionary[Connection[Any], float] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _recently_returned(conn: Connection[Any]) -> bool:
    with _lock:
        returned = _returned.get(conn)
    return returned is not None and time.monotonic() - returned < RECENT_SECONDS


_C_TIMESTAMPTZ_LOADER = psycopg.adapters.get_loader(1184, psycopg.pq.Format.TEXT)  # timestamptz, as text
_HAS_C_LOADER = _C_TIMESTAMPTZ_LOADER is not None and _C_TIMESTAMPTZ_LOADER.__module__.startswith(
    ("psycopg_binary", "psycopg_c"))


class UtcTimestamptzLoader(Loader):
    """``timestamptz`` read by psycopg's C loader on a connection whose time zone is UTC.
    ``timezone`` is what Django's ``create_cursor`` compares to decide whether a cursor needs a
    loader of its own."""

    timezone = datetime.UTC

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        self.load = _C_TIMESTAMPTZ_LOADER(oid, context).load  # type: ignore[method-assign, misc]

    def load(self, data: Any) -> Any:  # replaced per instance by the C loader's
        raise NotImplementedError


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        pool: ConnectionPool | None = self._connection_pools.get(self.alias)  # type: ignore[attr-defined]
        if pool is not None and isinstance(pool.kwargs, dict):  # the pool's, less the autocommit Django adds
            return {key: value for key, value in pool.kwargs.items() if key != "autocommit"}
        params: dict[str, Any] = super().get_connection_params()
        context = params.get("context")
        if context is not None and _HAS_C_LOADER and self.timezone is datetime.UTC:
            context.register_loader("timestamptz", UtcTimestamptzLoader)
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        conn = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None:
            return conn
        for _ in range(pool.max_size + 1):  # every pooled connection broken: then a fresh one
            if _recently_returned(conn):
                return conn
            try:
                ConnectionPool.check_connection(conn)
            except Exception:  # noqa: BLE001 — broken: the pool discards it as it comes back
                pool.putconn(conn)
                conn = super().get_new_connection(conn_params)
            else:
                return conn
        return conn

    def _close(self) -> None:
        conn = self.connection
        if self.pool is not None and conn is not None and not conn.closed and not conn.broken:
            with _lock:
                _returned[conn] = time.monotonic()
        super()._close()  # type: ignore[misc]  # not in the stubs
