from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient

from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import Client, communicator, connect, in_thread, refused_with, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("configured_layer")]


def _clients_gauge() -> float:
    from realtime.metrics import WS_CLIENTS

    return WS_CLIENTS.collect()[0].samples[0].value


def _session_cookie(username: str, tenant) -> str:  # type: ignore[no-untyped-def]
    from maestro.tenancy.models import Membership

    user = get_user_model().objects.create(username=username)
    Membership.objects.create(user=user, tenant=tenant, role="viewer")
    http = HttpClient()
    http.force_login(user)
    return f"sessionid={http.cookies['sessionid'].value}"


async def _make_project(tenant, name: str):  # type: ignore[no-untyped-def]
    from orchestration.work.services.projects import project_create

    return await in_thread(project_create)(tenant=tenant, actor=SYSTEM, name=name)


async def test_no_credentials_closes_4401_and_is_not_counted():
    # given
    before = _clients_gauge()
    comm = communicator("/ws")

    # when
    code = await refused_with(comm)

    # then
    assert code == 4401
    assert _clients_gauge() == before


async def test_bad_credentials_close_4401(tenant):
    cases = [{"headers": [("Authorization", h)]}
             for h in ("Bearer mae_not-a-real-token", "Bearer not-a-jwt", "Basic b2xpdmlhOnB3", "Bearer")]
    for kw in [*cases, {"path": "/ws?token=mae_nope"}, {"path": "/?token="}]:
        # given
        comm = communicator(kw.pop("path", "/ws"), **kw)

        # when
        code = await refused_with(comm)

        # then
        assert code == 4401, kw


async def test_revoked_token_closes_4401(tenant):
    # given
    from maestro.tenancy.models import ApiToken
    from maestro.tenancy.services import api_token_revoke

    raw = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    token = await in_thread(lambda: ApiToken.objects.select_related("tenant").get(user__username="rita"))()
    await in_thread(api_token_revoke)(token=token, actor=SYSTEM)

    # when
    code = await refused_with(communicator("/ws", token=raw))

    # then
    assert code == 4401


async def test_token_of_another_tenant_header_closes_4403(tenant, other_tenant):
    # given: a token of the default tenant asking for "other"
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")

    # when
    code = await refused_with(communicator("/ws", token=raw, headers=[("X-Maestro-Tenant", "other")]))

    # then
    assert code == 4403


async def test_authorization_header_connects_and_greets(tenant):
    # given
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    before = _clients_gauge()

    # when
    client = await connect("/ws", token=raw)

    # then
    assert set(client.hello) == {"type", "tenant", "role", "seq", "timestamp"}
    assert client.hello["tenant"] == "default"
    assert client.hello["role"] == "operator"
    from realtime.selectors import event_stream_head_of

    assert client.hello["seq"] == await in_thread(event_stream_head_of)(tenant.pk)
    assert _clients_gauge() == before + 1
    await client.close()
    assert _clients_gauge() == before


async def test_query_token_connects_on_every_path(tenant):
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="viewer")
    for path in ("/ws", "/ws/"):
        client = await connect(f"{path}?token={raw}")
        assert client.hello["role"] == "viewer", path
        await client.close()
    # the old clients' stream has no greeting; an open socket that answers a ping is connected
    old = Client(communicator(f"/?token={raw}"))
    assert (await old.comm.connect(timeout=5))[0]
    await old.send({"type": "ping"})
    assert (await old.recv())["type"] == "pong"
    await old.close()


async def test_tenant_isolation(tenant, other_tenant):
    # given: one client per tenant
    raw_a = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    raw_b = await in_thread(make_token)(username="oscar", tenant=other_tenant, role="operator")
    a = await connect("/ws", token=raw_a)
    b = await connect("/ws", token=raw_b)

    # when: tenant A changes something
    await _make_project(tenant, "A only")

    # then: A sees it, B sees nothing
    got = await a.recv_many(2)
    assert [m["type"] for m in got] == ["audit:created", "project:created"]
    assert got[1]["data"]["name"] == "A only"
    await settle()
    assert await b.nothing()

    # and when tenant B changes something, B sees exactly its own event with its own seq
    await _make_project(other_tenant, "B only")
    got_b = await b.recv_many(2)
    assert [m["type"] for m in got_b] == ["audit:created", "project:created"]
    assert got_b[1]["data"]["name"] == "B only"
    assert [m["seq"] for m in got_b] == [b.hello["seq"] + 1, b.hello["seq"] + 2]
    await settle()
    assert await a.nothing()
    await a.close()
    await b.close()


async def test_session_cookie_connects_from_its_own_origin_or_a_trusted_one(tenant, settings):
    # given
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.maestro.test"]
    cookie = await in_thread(_session_cookie)("sam", tenant)
    for extra in (
        [("Host", "maestro.test:8000"), ("Origin", "http://maestro.test:8000")],  # same origin
        [],  # no Origin: not a browser
        [("Host", "api.maestro.test"), ("Origin", "https://ui.maestro.test")],  # CSRF_TRUSTED_ORIGINS
    ):
        # when
        client = await connect("/ws", headers=[("Cookie", cookie), *extra])

        # then
        assert (client.hello["tenant"], client.hello["role"]) == ("default", "viewer"), extra
        await client.close()


async def test_session_cookie_from_a_foreign_origin_is_ignored(tenant):
    # given: a page on another origin opening a socket with the user's cookie
    cookie = await in_thread(_session_cookie)("sam", tenant)
    for origin in ("http://evil.example", "null", "http://maestro.test:9999", "http://maestro.test"):
        # when
        code = await refused_with(communicator("/ws", headers=[("Cookie", cookie), ("Host", "maestro.test:8000"),
                                                               ("Origin", origin)]))

        # then
        assert code == 4401, origin


async def test_token_is_accepted_from_any_origin(tenant):
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    client = await connect("/ws", token=raw, headers=[("Origin", "http://localhost:5173"), ("Host", "maestro.test")])
    assert client.hello["tenant"] == "default"
    await client.close()


async def test_dev_loopback_without_credentials(tenant, settings):
    # given: MAESTRO_ENV=dev behaviour
    settings.MAESTRO_DEV_LOOPBACK_AUTH = True

    # when
    client = await connect("/ws", client_addr=("127.0.0.1", 50000), headers=[("Origin", "http://localhost:5173")])

    # then
    assert client.hello == {**client.hello, "tenant": "default", "role": "operator"}
    await client.close()


async def test_dev_loopback_refused(tenant, settings):
    # given
    settings.MAESTRO_DEV_LOOPBACK_AUTH = True
    for addr, origin in [
        ("10.1.2.3", None),  # not loopback
        ("127.0.0.1", "http://evil.example"),  # a foreign page in the developer's browser
        ("127.0.0.1", "http://rebound.example:8000"),  # DNS rebinding: same Host, foreign name
    ]:
        headers = [("Host", "rebound.example:8000")] + ([("Origin", origin)] if origin else [])

        # when
        code = await refused_with(communicator("/ws", client_addr=(addr, 50000), headers=headers))

        # then
        assert code == 4401, (addr, origin)

    # and outside dev, loopback means nothing
    settings.MAESTRO_DEV_LOOPBACK_AUTH = False
    assert await refused_with(communicator("/ws", client_addr=("127.0.0.1", 50000))) == 4401


async def test_messages_after_a_4401_are_ignored(tenant):
    # given
    comm = communicator("/ws")
    await comm.connect()
    assert (await comm.receive_output())["code"] == 4401

    # when: a client that keeps talking
    await comm.send_to(text_data='{"type":"ping"}')

    # then: no answer, no crash
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


# --- the token as a subprotocol: out of the URL, for browsers (issue #9) ---------------------


async def test_token_offered_as_a_subprotocol_connects_and_the_answer_names_only_maestro_v1(tenant):
    # given: a browser's way: new WebSocket(url, ["maestro.v1", "maestro.token." + token])
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    before = _clients_gauge()
    comm = communicator("/ws", subprotocols=["maestro.v1", f"maestro.token.{raw}"],
                        headers=[("Origin", "https://ui.example"), ("Host", "maestro.test")])

    # when
    accepted, selected = await comm.connect(timeout=5)
    hello = json.loads(await comm.receive_from(timeout=5))

    # then: the stream is the token's, and the server's answer names the non-secret subprotocol
    assert (accepted, selected) == (True, "maestro.v1")
    assert (hello["type"], hello["tenant"], hello["role"]) == ("connected", "default", "operator")
    assert _clients_gauge() == before + 1
    await comm.disconnect()


async def test_a_token_subprotocol_without_maestro_v1_is_never_echoed(tenant):
    # given: a client that offers only the token
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="viewer")
    comm = communicator("/ws", subprotocols=[f"maestro.token.{raw}"])

    # when
    accepted, selected = await comm.connect(timeout=5)
    hello = json.loads(await comm.receive_from(timeout=5))

    # then: authenticated, and no subprotocol is selected (the only one offered is the secret)
    assert (accepted, selected) == (True, None)
    assert hello["role"] == "viewer"
    await comm.disconnect()


async def test_a_wrong_token_subprotocol_is_refused_before_any_frame(tenant, other_tenant):
    # given
    from maestro.tenancy.models import ApiToken
    from maestro.tenancy.services import api_token_revoke

    revoked = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    token = await in_thread(lambda: ApiToken.objects.select_related("tenant").get(user__username="rita"))()
    await in_thread(api_token_revoke)(token=token, actor=SYSTEM)
    others = await in_thread(make_token)(username="oscar", tenant=other_tenant, role="operator")
    before = _clients_gauge()
    cases = [("mae_" + "x" * 43, [], 4401), (revoked, [], 4401), ("", [], 4401), ("not-a-jwt", [], 4401),
             (others, [("X-Maestro-Tenant", "default")], 4403)]
    for raw, headers, expected in cases:
        comm = communicator("/ws", subprotocols=["maestro.v1", f"maestro.token.{raw}"], headers=headers)

        # when
        accepted, selected = await comm.connect(timeout=5)
        first = await comm.receive_output(timeout=5)

        # then: the close is the first and only thing sent; the answer never echoes the token
        assert (accepted, selected) == (True, "maestro.v1"), raw
        assert first == {"type": "websocket.close", "code": expected}, raw
        assert await comm.receive_nothing(timeout=0.1)
        await comm.disconnect()
    assert _clients_gauge() == before


async def test_an_authorization_header_wins_over_a_token_subprotocol(tenant):
    # given: a good token offered as a subprotocol, and a wrong one in the header
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    comm = communicator("/ws", token="mae_" + "x" * 43, subprotocols=["maestro.v1", f"maestro.token.{raw}"])

    # when / then: the explicit header is the credential, and it is wrong
    assert await refused_with(comm) == 4401


async def test_every_way_in_answers_maestro_v1_when_it_is_offered(tenant):
    # given: a token (header or query) and an operator's session cookie
    raw = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    cookie = await in_thread(_session_cookie)("sam", tenant)
    ways = [{"token": raw}, {"path": f"/ws?token={raw}"},
            {"headers": [("Cookie", cookie), ("Host", "maestro.test"), ("Origin", "http://maestro.test")]}]
    for way in ways:
        for offered, expected in ((["maestro.v1"], "maestro.v1"), (None, None)):
            comm = communicator(way.get("path", "/ws"), token=way.get("token"), headers=way.get("headers"),
                                subprotocols=offered)

            # when
            accepted, selected = await comm.connect(timeout=5)
            hello = json.loads(await comm.receive_from(timeout=5))

            # then
            assert (accepted, selected, hello["type"]) == (True, expected, "connected"), (way, offered)
            await comm.disconnect()
