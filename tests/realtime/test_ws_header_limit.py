"""The request-header limit (maestro.header_limit) on the WebSocket path: a handshake with
oversized headers is refused before it is accepted, whatever its credential."""

from __future__ import annotations

import pytest
from channels.testing.websocket import WebsocketCommunicator

from maestro.asgi import application
from tests.factories import make_token
from tests.realtime.conftest import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("configured_layer")]


async def test_a_handshake_with_oversized_headers_is_not_accepted(tenant):
    # given
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    fits = [(b"authorization", f"Bearer {raw}".encode()), (b"x-padding", b"p" * 7000)]
    oversized = [(b"authorization", f"Bearer {raw}".encode()), (b"x-padding", b"p" * 9000)]
    # when
    results = []
    for headers in (fits, oversized):
        comm = WebsocketCommunicator(application, "/ws", headers=headers)
        accepted, _ = await comm.connect(timeout=5)
        results.append(accepted)
        await comm.disconnect()
    # then
    assert results == [True, False]
