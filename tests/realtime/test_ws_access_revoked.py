"""An open connection keeps its access only while its credential does: revoking the token,
removing the membership or deactivating the user closes it, and nothing more is sent on it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import Client, connect, in_thread, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("configured_layer")]


async def _until_closed(client: Client) -> tuple[list[dict[str, Any]], int]:
    """The messages the server still sent, and the close code."""
    import json

    sent = []
    while True:
        message = await client.comm.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            return sent, int(message["code"])
        sent.append(json.loads(message["text"]))


def _revoke(username: str) -> None:
    from maestro.tenancy.models import ApiToken
    from maestro.tenancy.services import api_token_revoke

    api_token_revoke(token=ApiToken.objects.select_related("tenant").get(user__username=username), actor=SYSTEM)


def _remove_member(username: str) -> None:
    from maestro.tenancy.models import Membership
    from maestro.tenancy.services import membership_delete

    membership_delete(membership=Membership.objects.select_related("user", "tenant").get(user__username=username),
                      actor=SYSTEM)


def _make_project(tenant, name: str) -> None:  # type: ignore[no-untyped-def]
    from orchestration.work.services.projects import project_create

    project_create(tenant=tenant, actor=SYSTEM, name=name)


async def test_revoking_a_token_closes_its_connections_and_no_other(tenant):
    # given: two users of the tenant connected
    rita = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    olga = await in_thread(make_token)(username="olga", tenant=tenant, role="viewer")
    leaked, kept = await connect("/ws", token=rita), await connect("/ws", token=olga)

    # when: rita's token is revoked, then the tenant changes something
    await in_thread(_revoke)("rita")
    sent, code = await _until_closed(leaked)
    await in_thread(_make_project)(tenant, "after the revocation")

    # then: rita's socket is closed as unauthenticated before anything else reached it
    assert (sent, code) == ([], 4401)
    # and olga still gets every event, the revocation's audit row included, gapless
    got = await kept.recv_many(3)
    assert [(m["type"], m["data"].get("action") or m["data"].get("name")) for m in got] == [
        ("audit:created", "api_token.revoke"), ("audit:created", "project.create"),
        ("project:created", "after the revocation")]
    assert [m["seq"] for m in got] == [kept.hello["seq"] + 1, kept.hello["seq"] + 2, kept.hello["seq"] + 3]
    await kept.close()


async def test_removing_the_membership_closes_with_4403(tenant):
    # given
    raw = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    client = await connect("/ws", token=raw)

    # when
    await in_thread(_remove_member)("rita")

    # then: the token is valid but no longer grants this tenant
    assert await _until_closed(client) == ([], 4403)


async def test_a_deactivated_user_is_closed_at_the_next_recheck(tenant, settings):
    # given: connections re-check at every delivery; a user deactivated outside Maestro's
    # services (Django's own user admin), so no access-changed message is sent
    settings.MAESTRO_WS_AUTH_RECHECK_SECONDS = 0
    raw = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    client = await connect("/ws", token=raw)
    await in_thread(lambda: get_user_model().objects.filter(username="rita").update(is_active=False))()

    # when: the tenant changes something
    await in_thread(_make_project)(tenant, "secret plans")

    # then: the event is not delivered; the connection is closed
    assert await _until_closed(client) == ([], 4401)


async def test_a_revoked_client_sending_a_ping_is_closed(tenant, settings, held_broadcasts):
    # given: the revocation's broadcast is lost (a layer may drop it)
    settings.MAESTRO_WS_AUTH_RECHECK_SECONDS = 0
    raw = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    client = await connect("/ws", token=raw)
    held_broadcasts.holding = True
    await in_thread(_revoke)("rita")
    held_broadcasts.take()
    held_broadcasts.holding = False
    await settle()

    # when
    await client.send({"type": "ping"})

    # then: no pong, a close
    assert await _until_closed(client) == ([], 4401)


async def test_a_valid_credential_survives_rechecks(tenant, settings):
    # given
    settings.MAESTRO_WS_AUTH_RECHECK_SECONDS = 0
    raw = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    client = await connect("/ws", token=raw)

    # when: another member is removed (the whole tenant re-checks) and events flow
    await in_thread(make_token)(username="bob", tenant=tenant, role="viewer")
    await in_thread(_remove_member)("bob")
    await in_thread(_make_project)(tenant, "still here")
    await client.send({"type": "ping"})

    # then
    got, pong = await client.recv_until("pong")
    assert [m["type"] for m in got][-2:] == ["audit:created", "project:created"]
    assert got[-1]["data"]["name"] == "still here"
    assert pong["seq"] == got[-1]["seq"]
    await client.close()


async def test_an_access_change_re_checks_only_the_connections_it_names(tenant, monkeypatch):
    # given: rita and olga connected; every re-check after the handshake is counted
    from maestro.asgi import stream

    checks: list[str] = []
    real = stream.consumer_initkwargs["authenticate"]

    async def counted(scope):  # type: ignore[no-untyped-def]
        result = await real(scope)
        checks.append(result.grant.actor if result.grant else "refused")
        return result

    monkeypatch.setitem(stream.consumer_initkwargs, "authenticate", counted)
    tokens = {name: await in_thread(make_token)(username=name, tenant=tenant, role="viewer")
              for name in ("rita", "olga", "bob")}
    rita, olga = await connect("/ws", token=tokens["rita"]), await connect("/ws", token=tokens["olga"])
    checks.clear()  # the two handshakes

    # when: bob (not connected) loses his token, then olga her membership
    await in_thread(_revoke)("bob")
    await in_thread(_remove_member)("olga")

    # then: only olga's connection re-checked, and was closed before her removal reached her;
    # rita's was not disturbed
    sent, code = await _until_closed(olga)
    assert ([m["data"]["action"] for m in sent], code) == (["api_token.revoke"], 4403)
    assert checks == ["refused"]
    got = await rita.recv_many(2)
    assert [(m["type"], m["data"]["action"]) for m in got] == [("audit:created", "api_token.revoke"),
                                                               ("audit:created", "membership.delete")]
    await rita.close()


async def _first_output(client: Client) -> dict[str, Any]:
    import json

    message = await client.comm.receive_output(timeout=5)
    return message if message["type"] == "websocket.close" else json.loads(message["text"])


async def test_a_revoked_socket_gets_only_the_close_when_later_events_overtake_the_revocation(
        tenant, held_broadcasts):
    # given: rita connected; her token is revoked by a process whose broadcast is late
    raw = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    client = await connect("/ws", token=raw)
    held_broadcasts.holding = True
    await in_thread(_revoke)("rita")
    late = held_broadcasts.take()
    held_broadcasts.holding = False

    # when: events committed after the revocation (by another process) arrive first
    await in_thread(_make_project)(tenant, "after the revocation")
    await in_thread(_make_project)(tenant, "and another")

    # then: the first and only thing the socket gets is the close
    assert await _first_output(client) == {"type": "websocket.close", "code": 4401}
    await held_broadcasts.release(late)
    assert await client.nothing()


async def test_a_revoked_socket_gets_only_the_close_when_just_the_revocations_events_arrive(
        tenant, held_broadcasts):
    # given: rita connected; her token is revoked, and of what that commit broadcasts only the
    # message with its events reaches her process (pub/sub may lose any message in transit)
    from realtime.broadcast import MESSAGE_TYPE

    raw = await in_thread(make_token)(username="rita", tenant=tenant, role="operator")
    client = await connect("/ws", token=raw)
    held_broadcasts.holding = True
    await in_thread(_revoke)("rita")
    held_broadcasts.holding = False

    # when
    await held_broadcasts.release([m for m in held_broadcasts.take() if m[1]["type"] == MESSAGE_TYPE])
    await in_thread(_make_project)(tenant, "after the revocation")

    # then
    assert await _first_output(client) == {"type": "websocket.close", "code": 4401}
