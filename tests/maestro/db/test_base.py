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


TIMESTAMPS = ["2026-11-27 21:44:37.123456+00", "0001-01-01 00:00:00+00", "2026-03-29 01:30:00+02",
              "9999-12-31 23:59:59.999999+00", "1970-01-01 00:00:00.000001-09:30"]


@pytest.mark.django_db
def test_timestamps_are_read_by_the_c_loader_as_django_reads_them():
    import datetime

    from django.db.backends.postgresql.psycopg_any import register_tzloader

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    sql = "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, i) ORDER BY i"
    with connection.cursor() as cur:
        assert cur.connection.adapters.get_loader(1184, psycopg.pq.Format.TEXT) is backend.UtcTimestamptzLoader
        cur.execute(sql, [TIMESTAMPS])
        ours = [row[0] for row in cur.fetchall()]
        register_tzloader(datetime.UTC, cur.cursor)  # Django's own loader, on this cursor only
        cur.execute(sql, [TIMESTAMPS])
        djangos = [row[0] for row in cur.fetchall()]
    assert ours == djangos
    assert [v.isoformat() for v in ours] == [v.isoformat() for v in djangos]
    assert ours[0] == datetime.datetime(2026, 11, 27, 21, 44, 37, 123456, tzinfo=datetime.UTC)
    assert {v.tzinfo for v in ours} == {datetime.UTC}


@pytest.mark.django_db
def test_a_timestamp_python_cannot_hold_is_refused_as_django_refused_it():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    from django.db.utils import DataError

    with pytest.raises(DataError, match="timestamp too large"), connection.cursor() as cur:
        cur.execute("SELECT 'infinity'::timestamptz")
        cur.fetchone()


@pytest.mark.django_db
def test_a_pooled_connection_is_taken_without_working_out_the_parameters_again():
    if connection.vendor != "postgresql" or connection.pool is None:
        pytest.skip("needs PostgreSQL and Maestro's pool")
    _backend_pid()  # the pool exists
    first, second = connection.get_connection_params(), connection.get_connection_params()
    assert "autocommit" not in first
    assert first == second and first["context"] is second["context"] is connection.pool.kwargs["context"]
    assert {k: v for k, v in connection.pool.kwargs.items() if k != "autocommit"} == first
