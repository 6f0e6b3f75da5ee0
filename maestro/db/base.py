"""Django's PostgreSQL backend with one change: how a pooled connection is checked as it is
handed out (``ENGINE = "maestro.db"``, set by the settings for PostgreSQL).

psycopg_pool's own check (what ``CONN_HEALTH_CHECKS`` turns on) sends a query each time a
connection leaves the pool: one more round trip on every request, a third of a task read's.
Here a connection that went back into the pool in good order within the last
``RECENT_SECONDS`` goes out unchecked (the pool itself discards one that comes back broken),
and any other is checked as before and replaced when broken — so a database restart or
failover, which takes longer than that, still costs no failed request."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from django.db.backends.postgresql import base
from psycopg import Connection
from psycopg_pool import ConnectionPool

RECENT_SECONDS = 1.0
_returned: weakref.WeakKeyDictionary[Connection[Any], float] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _recently_returned(conn: Connection[Any]) -> bool:
    with _lock:
        returned = _returned.get(conn)
    return returned is not None and time.monotonic() - returned < RECENT_SECONDS


class DatabaseWrapper(base.DatabaseWrapper):
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
