"""No credential reaches a log line of the web process (issue #9): bin/web, started as production
starts it, with every log line it writes captured — uvicorn's access log and its WebSocket
lines, Django's ``django.request`` (whose ``request`` field renders the full path), errors of a
failed handshake — while clients send their token in the places old and new clients do."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import ROOT, _free_port
from tests.factories import make_token

pytestmark = pytest.mark.postgres

REDACTED = "[redacted]"


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _ws(url: str, **kw) -> tuple[str | None, list[str], int | None]:  # type: ignore[no-untyped-def]
    """The subprotocol the server selected, the frames it sent before closing, its close code."""
    frames: list[str] = []
    with connect(url, proxy=None, open_timeout=10, **kw) as ws:
        selected = ws.subprotocol
        try:
            frames.append(str(ws.recv(timeout=5)))
        except ConnectionClosed as closed:
            return selected, frames, closed.rcvd.code if closed.rcvd else None
        ws.close()
    return selected, frames, None


@contextmanager
def _one_migration_unapplied() -> Iterator[None]:
    """Makes /readyz answer 503 (a server error Django logs with the request) for real: the
    database forgets one applied migration, which is put back afterwards."""
    with connection.cursor() as cur:
        cur.execute("DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM django_migrations) "
                    "RETURNING app, name, applied")
        row = cur.fetchone()
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)", row)


def test_no_token_reaches_a_log_line_of_the_web_process(live_server_factory, tenant, tmp_path):
    # given: bin/web logging everything at INFO into a file, and a real token
    server = live_server_factory(log=tmp_path / "web.log", MAESTRO_LOG_LEVEL="INFO")
    token = make_token(username="olivia", tenant=tenant, role="operator")
    wrong = "mae_" + "w" * 43
    ws_base = server.url.replace("http://", "ws://")

    # when: WebSocket clients put their token in the URL (as the old clients do), right or wrong
    _, frames, _ = _ws(f"{ws_base}/ws?token={token}")
    assert json.loads(frames[0])["type"] == "connected"
    _, frames, code = _ws(f"{ws_base}/?token={wrong}&afterSeq=0")
    assert (frames, code) == ([], 4401)
    # (and the ways that keep it out of the URL: the header, and the subprotocol browsers use)
    selected, frames, _ = _ws(f"{ws_base}/ws", additional_headers={"Authorization": f"Bearer {token}"},
                              subprotocols=["maestro.v1"])
    assert (selected, json.loads(frames[0])["type"]) == ("maestro.v1", "connected")
    selected, frames, _ = _ws(f"{ws_base}/ws", subprotocols=["maestro.v1", f"maestro.token.{token}"])
    assert (selected, json.loads(frames[0])["type"]) == ("maestro.v1", "connected")
    with pytest.raises(InvalidStatus):  # a handshake the application fails (no such route): logged as an error
        _ws(f"{ws_base}/nope?token={token}")
    # and: HTTP requests with the token in the query answer 401, 404 and a logged 503
    assert _get(f"{server.url}/api/projects?token={token}") == 401
    assert _get(f"{server.url}/api/nope?token={token}", {"Authorization": f"Bearer {token}"}) == 404
    with _one_migration_unapplied():
        assert _get(f"{server.url}/readyz?token={token}&x=1") == 503
    lines = server.output().splitlines()

    # then: neither token is in any line
    assert lines
    assert [line for line in lines if token in line or wrong in line] == []
    # and: the lines are still there, with the paths they name and the token redacted
    records = [json.loads(line) for line in lines]
    messages = [r["message"] for r in records]
    assert f'"WebSocket /ws?token={REDACTED}" [accepted]' in "\n".join(messages)
    assert f'"WebSocket /?token={REDACTED}&afterSeq=0" [accepted]' in "\n".join(messages)
    assert any(r["level"] == "ERROR" and r["message"].startswith("Exception in ASGI application") for r in records)
    for path, status in ((f"/api/projects?token={REDACTED}", 401), (f"/api/nope?token={REDACTED}", 404),
                         (f"/readyz?token={REDACTED}&x=1", 503)):
        assert any(m.endswith(f'"GET {path} HTTP/1.1" {status}') for m in messages), path
    [logged] = [r for r in records if r["logger"] == "django.request"]
    assert (logged["message"], logged["status_code"]) == ("Service Unavailable: /readyz", 503)
    assert logged["request"] == f"<WSGIRequest: GET '/readyz?token={REDACTED}&x=1'>"  # HTTP runs as WSGI (maestro.asgi)


def _banner_token(stdout: Path, proc: subprocess.Popen[bytes], port: int) -> str:
    """The API token ./bin/run prints for the operator, once its server listens."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        printed = re.search(r"API token: (mae_\S+)", stdout.read_text())
        with socket.socket() as probe:
            if printed and probe.connect_ex(("127.0.0.1", port)) == 0:
                return printed.group(1)
        time.sleep(0.2)
    pytest.fail(f"maestro_run did not start: {stdout.read_text()}")


def test_the_one_machine_command_logs_no_token_either(tmp_path):
    # given: ./bin/run's command in the embedded default (SQLite, jobs and scheduler in-process)
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}, "MAESTRO_ENV": "dev",
           "MAESTRO_VAR_DIR": str(tmp_path / "var"), "MAESTRO_LOG_LEVEL": "INFO"}
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen([sys.executable, "manage.py", "maestro_run", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=err)
    try:
        token = _banner_token(stdout, proc, port)

        # when: an old client's WebSocket and an HTTP request carry the token in the URL
        _, frames, _ = _ws(f"ws://127.0.0.1:{port}/ws?token={token}")
        assert json.loads(frames[0])["role"] == "admin"
        assert _get(f"http://127.0.0.1:{port}/api/nope?token={token}") == 404
    finally:
        proc.terminate()
        proc.wait(30)

    # then: the log (stderr) names the requests, never the token (the banner on stdout is for the operator)
    lines = stderr.read_text().splitlines()
    assert [line for line in lines if token in line] == []
    messages = [json.loads(line)["message"] for line in lines if line.startswith("{")]
    assert any(m.endswith(f'"WebSocket /ws?token={REDACTED}" [accepted]') for m in messages)
    assert any(m.endswith(f'"GET /api/nope?token={REDACTED} HTTP/1.1" 404') for m in messages)
