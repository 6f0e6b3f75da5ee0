"""Credentials never reach a log line (issue #9): every handler a Maestro process logs through
redacts them, whatever carries them — a message's arguments, an extra field such as Django's
``request``, an exception's text — and the worker adds no handler of its own beside them.
(tests/e2e/test_credentials_not_logged.py checks the lines of a real bin/web.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.maestro.log_probe import SECRETS

ROOT = Path(__file__).resolve().parents[2]


def _probe(kind: str) -> list[tuple[str, str]]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "maestro.settings"}
    out = subprocess.run([sys.executable, "-m", "tests.maestro.log_probe", kind], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [(handler, line) for handler, line in json.loads(out.stdout)]


@pytest.mark.parametrize("kind", ["web", "worker"])
def test_every_handler_of_a_process_redacts_credentials_wherever_a_record_carries_them(kind):
    # given / when: a process set up as bin/web (or manage.py, bin/scheduler) or bin/worker is,
    # formatting records that carry credentials in their message, arguments, extras and exception
    formatted = _probe(kind)

    # then: one handler formats everything, and no credential is left in any line
    assert {handler for handler, _ in formatted} == {"root:RedactingJsonFormatter"}
    lines = [line for _, line in formatted]
    assert [line for line in lines if any(secret in line for secret in SECRETS)] == []
    # and: what the lines say around the credentials is kept
    records = [json.loads(line) for line in lines]
    assert [r["message"] for r in records[:2]] == [
        '127.0.0.1:5000 - "GET /api/x?a=1&token=[redacted]&b=2 HTTP/1.1" 401',
        '127.0.0.1:5000 - "WebSocket /ws?access_token=[redacted]" [accepted]']
    assert (records[2]["message"], records[2]["request"]) == (
        "Internal Server Error: /api/x", "<WSGIRequest: GET '/api/x?token=[redacted]'>")
    assert [r["message"] for r in records[3:6]] == [
        "headers: Authorization: Bearer [redacted]; Cookie: sessionid=[redacted]; csrftoken=[redacted]",
        "Sec-WebSocket-Protocol: maestro.v1, maestro.token.[redacted]",
        "token /api/things/[redacted] in a path"]
    assert records[6]["exc_info"].endswith("ValueError: bad handshake for /ws?token=[redacted]")
    assert records[7]["message"] == "broker unreachable: redis://:[redacted]@10.0.0.5:6379/0"
