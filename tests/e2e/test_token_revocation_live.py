"""A revoked API token is refused at once by every web process: each keeps the tokens it read
(maestro/tenancy/credential_cache.py), and the revocation returns only once every process's
listener has dropped them."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from maestro.tenancy.models import ApiToken
from maestro.tenancy.services import api_token_revoke
from tests.factories import SYSTEM, make_token

pytestmark = pytest.mark.postgres


def _status(url: str, conn: http.client.HTTPConnection, token: str) -> int:
    conn.request("GET", "/api/projects", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    return response.status


def test_a_token_revoked_elsewhere_is_refused_by_every_web_process_at_its_next_request(live_server_factory,
                                                                                        tenant):
    # given a token in use on keep-alive connections to two web processes
    raw = make_token(username="rhea", tenant=tenant, role="operator")
    urls = [live_server_factory(MAESTRO_WEB_WORKERS="1").url for _ in range(2)]
    conns = [http.client.HTTPConnection(urlsplit(u).hostname, urlsplit(u).port, timeout=30) for u in urls]
    try:
        assert [_status(u, c, raw) for u, c in zip(urls, conns, strict=True)] == [200, 200]
        # when this process revokes it
        api_token_revoke(token=ApiToken.objects.get(user__username="rhea"), actor=SYSTEM)
        # then the next request on each connection is refused
        assert [_status(u, c, raw) for u, c in zip(urls, conns, strict=True)] == [401, 401]
    finally:
        for c in conns:
            c.close()
