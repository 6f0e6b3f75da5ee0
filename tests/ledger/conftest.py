from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from tests.factories import SYSTEM


def postgres_only(test: Any) -> Any:
    """Concurrency and database-guard tests: PostgreSQL only."""
    skip = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
    return pytest.mark.postgres(skip(test))


def other_session() -> Any:
    """A second, independent PostgreSQL session on the test database (autocommit)."""
    import psycopg

    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


@contextmanager
def triggers_bypassed() -> Iterator[Any]:
    """A superuser editing rows behind the application's back: on PostgreSQL with the
    append-only triggers switched off for this session (SQLite has none)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET session_replication_role = replica")
        try:
            yield cur
        finally:
            if connection.vendor == "postgresql":
                cur.execute("SET session_replication_role = origin")


def append(tenant: Any, n: int = 1, *, action: str = "task.create", **kw: Any) -> list[Any]:
    """``n`` intake rows the way write_path.record appends them."""
    from ledger.services import intake_add

    rows = []
    for i in range(n):
        rows.append(intake_add(tenant_id=tenant.pk, action_type=kw.get("action_type", action),
                               resource_type=kw.get("resource_type", "task"),
                               resource_id=kw.get("resource_id", f"task_{i}"), actor_id=kw.get("actor_id", SYSTEM.name),
                               actor_type=kw.get("actor_type", "system"),
                               payload=kw.get("payload", {"i": i, "note": "ünïcode ✓"}),
                               metadata=kw.get("metadata", {"requestId": f"req-{i}"})))
    return rows


# The ledger API, and one entry to append through it.
URL = "/api/ledger/"
BODY = {"actionType": "deploy.finished", "resourceType": "service", "resourceId": "payments-api",
        "actorId": "ci-bot", "actorType": "job", "payload": {"version": "1.4.2", "ok": True},
        "metadata": {"pipeline": 17}}


def hashed_view(entry: dict[str, Any]) -> dict[str, Any]:
    """What anyone can recompute currentHash from: the API entry minus currentHash and payload."""
    return {k: v for k, v in entry.items() if k not in ("currentHash", "payload")}


SETUP_RESOURCES = ("membership", "api_token")


def appended(**filters: Any) -> Any:
    """Intake rows a test appended: the client fixtures' own token set-up is ledgered too."""
    from ledger.models import IntakeEntry

    return IntakeEntry.objects.exclude(resource_type__in=SETUP_RESOURCES).filter(**filters)


def settle(tenant: Any) -> int:
    """Sequence whatever the fixtures appended; returns the chain height to count from."""
    from ledger.models import TenantHead

    sequence(tenant)
    return TenantHead.objects.filter(tenant_id=tenant.pk).values_list("sequence_number", flat=True).first() or 0


def sequence(tenant: Any, batch_size: int | None = None) -> int:
    from ledger.sequencer import sequence_tenant

    return sequence_tenant(tenant_id=tenant.pk, batch_size=batch_size)


@pytest.fixture
def archive_url(tmp_path, settings) -> str:
    url = (tmp_path / "archive").as_uri()
    settings.MAESTRO_ARCHIVE_URL = url
    return url


@contextmanager
def pause_after(match: Callable[[str], bool], reached: threading.Event, resume: threading.Event) -> Iterator[None]:
    """In this thread: after the first query that ``match``es has run, signal and wait (to
    interleave another thread's writes at an exact point of a sequencer run)."""
    state = {"paused": False}

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not state["paused"] and match(sql):
            state["paused"] = True
            reached.set()
            assert resume.wait(30), "the test never resumed the sequencer"
        return result

    with connection.execute_wrapper(wrapper):
        yield


def claim_query(sql: str) -> bool:
    """The sequencer reading its batch from the intake (PostgreSQL)."""
    from ledger.models import IntakeEntry

    return sql.startswith("SELECT pk_id") and IntakeEntry._meta.db_table in sql


def in_thread(target: Callable[[], Any]) -> threading.Thread:
    """``target`` started in a thread of its own, which closes its connection at the end."""
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread
