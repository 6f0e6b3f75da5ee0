"""GET /api/ledger/export served by the web process (uvicorn → maestro.asgi): streamed one part
at a time with bounded memory, the same bytes as the synchronous path, and no Django warning
about consuming a synchronous iterator whole."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import tracemalloc
import warnings

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from rest_framework.test import APIClient

from ledger.hashing import entry_hash
from tests.ledger.conftest import append, hashed_view, sequence, settle

pytestmark = pytest.mark.django_db(transaction=True)

CONSUME_WARNING = "StreamingHttpResponse must consume"


@pytest.fixture(autouse=True)
async def _close_sync_thread_connections():
    yield
    # The set-up ran in asgiref's sync thread; its connection must not outlive the test
    # (PostgreSQL refuses to drop a test database that has sessions).
    await sync_to_async(connections.close_all)()


def _scope(path: str, query: str, token: str) -> dict:
    return {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "scheme": "http",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "http_version": "1.1",
            "asgi": {"version": "3.0"},
            "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]}


async def _served(query: str, token: str, *, keep: bool) -> tuple[int, dict[str, str], bytes, str, int, int]:
    """The export as the web process serves it: maestro.asgi called as uvicorn calls it, each
    body message handled as it is sent (hashed, and kept only when ``keep``), as a server
    writes it to its socket. Returns the status, headers, the body (when ``keep``), its SHA-256,
    its size and the number of body messages."""
    from maestro.asgi import application

    requested = False
    never = asyncio.Event()
    start: dict = {}
    digest, kept, counts = hashlib.sha256(), [], {"size": 0, "parts": 0}

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        chunk = message.get("body", b"")
        digest.update(chunk)
        counts["size"] += len(chunk)
        counts["parts"] += 1
        if keep:
            kept.append(chunk)

    await asyncio.wait_for(application(_scope("/api/ledger/export", query, token), receive, send), 120)
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(kept), digest.hexdigest(), counts["size"], counts["parts"]


def _admin_token(tenant) -> str:
    from tests.factories import make_token

    return make_token(username="ada", tenant=tenant, role="admin")


def _sync_export(token: str, query: str) -> bytes:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/api/ledger/export?" + query)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _listed(token: str, query: str) -> list[dict]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/ledger/entries?limit=5000&" + query).json()


def _given_entries(tenant, n: int, **kw) -> int:
    base = settle(tenant)
    append(tenant, n, **kw)
    sequence(tenant)
    return base


async def test_the_export_served_through_asgi_is_the_same_json_and_csv_without_a_warning(tenant):
    # given
    token = await sync_to_async(_admin_token)(tenant)
    base = await sync_to_async(_given_entries)(tenant, 1500)
    query = f"fromSequence={base + 1}"

    # when
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, as_json, _, _, json_parts = await _served(f"format=json&{query}", token, keep=True)
        csv_status, csv_headers, as_csv, _, _, _ = await _served(f"format=csv&{query}", token, keep=True)

    # then: no warning, streamed in several parts, the same bytes the synchronous path sends
    assert [str(w.message) for w in caught if CONSUME_WARNING in str(w.message)] == []
    assert (status, csv_status) == (200, 200)
    assert (headers["content-type"], csv_headers["content-type"]) == ("application/json", "text/csv")
    assert headers["content-disposition"].startswith('attachment; filename="ledger-default-')
    assert json_parts > 2
    assert as_json == await sync_to_async(_sync_export)(token, f"format=json&{query}")
    assert as_csv == await sync_to_async(_sync_export)(token, f"format=csv&{query}")
    # and it is what the API lists, each entry re-hashing to its currentHash
    entries = json.loads(as_json)
    assert entries == await sync_to_async(_listed)(token, query)
    assert [e["sequenceNumber"] - base for e in entries] == list(range(1, 1501))
    assert all(entry_hash(**_snake(hashed_view(e))) == e["currentHash"] for e in entries)
    rows = list(csv.DictReader(io.StringIO(as_csv.decode())))
    assert [(int(r["sequenceNumber"]), r["currentHash"]) for r in rows] == [
        (e["sequenceNumber"], e["currentHash"]) for e in entries]


async def test_a_large_export_is_streamed_with_bounded_memory(tenant):
    # given: an export of ~12 MB (3,000 entries with 4 KB payloads)
    token = await sync_to_async(_admin_token)(tenant)
    base = await sync_to_async(_given_entries)(tenant, 3000, payload={"blob": "x" * 4000})
    expected = hashlib.sha256(await sync_to_async(_sync_export)(token, f"fromSequence={base + 1}")).hexdigest()

    await _served(f"fromSequence={base + 1}&toSequence={base + 1}", token, keep=False)  # warm: imports, caches

    # when: served through the ASGI application, each part hashed and dropped
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        status, _, _, digest, size, _ = await _served(f"fromSequence={base + 1}", token, keep=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # then: the same bytes, while memory stayed a small fraction of the export (measured: about
    # a tenth; holding it whole costs more than its size)
    assert (status, digest) == (200, expected)
    assert size > 12_000_000
    assert peak - before < size / 4, f"peak +{(peak - before) / 1e6:.1f} MB for a {size / 1e6:.1f} MB export"


def _snake(body: dict) -> dict:
    names = {"id": "id", "tenantId": "tenant_id", "sequenceNumber": "sequence_number",
             "previousHash": "previous_hash", "timestamp": "timestamp", "actionType": "action_type",
             "resourceType": "resource_type", "resourceId": "resource_id", "actorId": "actor_id",
             "actorType": "actor_type", "payloadHash": "payload_hash", "metadata": "metadata"}
    return {names[k]: v for k, v in body.items()}
