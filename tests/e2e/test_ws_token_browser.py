"""A browser authenticates its WebSocket without putting the token in the URL (issue #9): it
offers the token as a subprotocol beside ``maestro.v1``, the server selects ``maestro.v1`` (a
browser fails a connection whose answer selects none of what it offered), and a wrong token is
refused before any frame. Real Chromium against a real bin/web whose log is read after."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_token

pytestmark = pytest.mark.postgres

OPEN = """([token]) => new Promise((resolve) => {
    const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws', ['maestro.v1', 'maestro.token.' + token]);
    const seen = [];
    ws.onmessage = (m) => { seen.push(JSON.parse(m.data)); ws.close(1000); };
    ws.onclose = (e) => resolve({protocol: ws.protocol, seen, code: e.code});
})"""


def test_a_browser_websocket_authenticates_with_a_subprotocol_token(live_server_factory, browser_page, tenant,
                                                                      tmp_path):
    # given
    server = live_server_factory(log=tmp_path / "web.log", MAESTRO_LOG_LEVEL="INFO")
    token = make_token(username="olivia", tenant=tenant, role="operator")
    wrong = "mae_" + "w" * 43
    browser_page.goto(f"{server.url}/healthz")

    # when
    good = browser_page.evaluate(OPEN, [token])
    bad = browser_page.evaluate(OPEN, [wrong])

    # then: greeted on the token's stream, with only maestro.v1 selected
    assert (good["protocol"], good["code"]) == ("maestro.v1", 1000)
    [hello] = good["seen"]
    assert (hello["type"], hello["tenant"], hello["role"]) == ("connected", "default", "operator")
    # and: the wrong token is closed with 4401 before any frame
    assert bad == {"protocol": "maestro.v1", "seen": [], "code": 4401}
    # and: neither token is in the server's log, which has the connections
    log = server.output()
    assert token not in log and wrong not in log
    messages = [json.loads(line)["message"] for line in log.splitlines()]
    assert len([m for m in messages if m.endswith('"WebSocket /ws" [accepted]')]) == 2
