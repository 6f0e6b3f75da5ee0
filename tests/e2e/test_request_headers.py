"""Request headers have a size limit, checked at the ASGI layer in front of Django for every
path (the server, uvicorn with httptools, has none): over it, the one error envelope, and the
request reaches nothing behind."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.factories import make_token

pytestmark = pytest.mark.postgres


def _get(url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


OVERSIZED = [
    {"X-Padding": "p" * 9000},                         # one header over 8 KiB
    {f"X-Padding-{i}": "p" * 6000 for i in range(3)},  # 18 KB in all
    {"X-Padding": "p" * 1024 * 1024},                  # 1 MB
]


def test_oversized_request_headers_are_refused_in_the_one_error_shape(live_asgi, tenant):
    # given
    raw = make_token(username="olivia", tenant=tenant, role="operator")
    for path in ("/api/projects", "/healthz", "/admin/login/"):
        for headers in OVERSIZED:
            # when
            status, got, body = _get(live_asgi, path, {"Authorization": f"Bearer {raw}", "X-Request-ID": "hdr-1",
                                                       **headers})
            # then
            assert status == 400, (path, len(str(headers)))
            assert got["content-type"] == "application/json"
            assert got["x-request-id"] == "hdr-1"
            assert json.loads(body) == {"error": True, "code": "VALIDATION_ERROR",
                                        "message": "Request headers too large",
                                        "details": {"maxBytes": 16384, "maxFieldBytes": 8192}}


def test_headers_within_the_limit_are_served(live_asgi, tenant):
    # given
    raw = make_token(username="olivia", tenant=tenant, role="operator")
    headers = {"Authorization": f"Bearer {raw}", "X-Padding-1": "p" * 7000, "X-Padding-2": "p" * 7000}
    # when
    status, _, body = _get(live_asgi, "/api/projects", headers)
    # then
    assert (status, json.loads(body)) == (200, [])
