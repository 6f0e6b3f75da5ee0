"""The production ASGI app under concurrent load, on PostgreSQL: every request answered, and
the process holds no more database connections than its pool allows (under ASGI each request
runs in a thread of its own; per-thread persistent connections used to pile up until
PostgreSQL refused new clients and requests failed with 500)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message

from django.db import connection

from maestro.write_path.models import AuditEvent
from tests.e2e.conftest import LIVE_APPLICATION_NAME, LIVE_POOL_MAX
from tests.factories import make_project, make_task, make_token

CLIENTS = 16
REQUESTS = 240


def _server_connections() -> int:
    """The server's sessions on the test database: it names them (MAESTRO_DB_APPLICATION_NAME),
    so connections this test process keeps in its own pool are not counted."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND application_name = %s", [LIVE_APPLICATION_NAME])
        return int(cur.fetchone()[0])


def test_concurrent_reads_all_succeed_within_the_connection_pool(live_asgi, tenant):
    # given
    token = make_token(username="reader", tenant=tenant, role="viewer")
    project = make_project(tenant)
    ids = [make_task(tenant, project, f"t{i}").id for i in range(8)]
    samples: list[int] = []
    done = threading.Event()

    def watch() -> None:  # the server's connections to the test database, while it works
        try:
            while not done.wait(0.02):
                samples.append(_server_connections())
        finally:
            connection.close()

    def get(n: int) -> tuple[int, str]:
        request = urllib.request.Request(f"{live_asgi}/api/tasks/{ids[n % len(ids)]}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())["id"]

    # when: 16 clients at once, 240 requests
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(get, range(REQUESTS)))
    finally:
        done.set()
        watcher.join()

    # then: every request answered with its task; the server never held more than its pool
    assert results == [(200, ids[n % len(ids)]) for n in range(REQUESTS)]
    assert samples and 1 <= max(samples) <= LIVE_POOL_MAX, samples


def _fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
           data: bytes | None = None) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body, also of an error response."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_the_async_middleware_chain_keeps_request_ids_error_envelopes_and_static_files(live_asgi, tenant, settings):
    # given
    token = make_token(username="reader", tenant=tenant, role="operator")
    auth = {"Authorization": f"Bearer {token}"}

    # when / then: the request id is echoed, and bound while the view ran (its audit row has it)
    status, headers, body = _fetch(f"{live_asgi}/api/projects", method="POST", data=b'{"name": "live"}',
                                   headers={**auth, "Content-Type": "application/json", "X-Request-ID": "req-live-1"})
    assert (status, headers["X-Request-ID"]) == (201, "req-live-1")
    assert AuditEvent.objects.get(action="project.create", resource=json.loads(body)["id"]).request_id == "req-live-1"
    # Django's own 404 on an API path becomes the error envelope
    status, headers, body = _fetch(f"{live_asgi}/api/nope", headers=auth)
    assert (status, json.loads(body)["code"]) == (404, "NOT_FOUND")
    assert len(headers["X-Request-ID"]) == 32  # one was made
    # a declared body over the limit is refused before anything reads it
    status, _, body = _fetch(f"{live_asgi}/api/projects", method="POST", data=b"{}",
                             headers={**auth, "Content-Type": "application/json",
                                      "Content-Length": str(settings.MAESTRO_MAX_BODY_BYTES + 1)})
    assert (status, json.loads(body)["message"]) == (400, "Request body too large")
    # static files are served (the admin's stylesheet)
    status, headers, body = _fetch(f"{live_asgi}/static/admin/css/base.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and len(body) > 1000
