"""Maestro's PostgreSQL backend: a pooled connection the server dropped while it sat in the
pool is replaced before a request uses it."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from maestro.db import base as backend


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")},
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):  # terminating is asynchronous
            if admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() == (0,):
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} still there")


def _backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_in_the_pool_is_replaced_before_use(monkeypatch):
    # given a connection that went back into the pool, which the server then dropped (a restart)
    assert connection.pool is not None
    monkeypatch.setattr(backend, "RECENT_SECONDS", 0.0)  # it went back long ago
    dropped = _backend_pid()
    connection.close()
    _terminate(dropped)
    # when the next request takes a connection
    try:
        pid = _backend_pid()
    finally:
        connection.close()
        connection.close_pool()  # the tests after this one start with a pool of their own
    # then it is served, by another connection
    assert pid != dropped
