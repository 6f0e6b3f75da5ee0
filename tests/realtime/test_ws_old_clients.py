"""``/``: the old system's stream for its unchanged clients (DESIGN §5). No greeting, only the
events the old server sent (project, task, session, subtask, link and spawn events), in the
old envelope; after a spawn the first message is its ``session:spawn_request``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import Client, communicator, connect, in_thread, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]

ENVELOPE = {"type", "event", "data", "timestamp", "seq"}


async def _old_client(token: str) -> Client:
    """Connects to ``/`` as the old clients did: no greeting is read, none is expected."""
    client = Client(communicator("/", token=token))
    accepted, _ = await client.comm.connect(timeout=5)
    assert accepted
    return client


@pytest.fixture
async def token(tenant) -> str:
    return await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")


@pytest.fixture
async def old(token) -> Any:
    client = await _old_client(token)
    yield client
    await client.close()


def _project(tenant: Any, name: str = "P") -> Any:
    from orchestration.work.services.projects import project_create

    return project_create(tenant=tenant, actor=SYSTEM, name=name)


def _task(tenant: Any, project: Any, title: str = "T") -> Any:
    from orchestration.work.services.tasks import task_create

    return task_create(tenant=tenant, actor=SYSTEM, project=project, title=title)


async def test_no_greeting_and_the_first_message_is_the_first_domain_event(old, tenant):
    # when
    project = await in_thread(_project)(tenant)

    # then: no "connected", no audit:created ahead of it
    first = await old.recv()
    assert set(first) == ENVELOPE
    assert (first["type"], first["event"], first["data"]["id"], first["data"]["name"]) == (
        "project:created", "project:created", project.id, "P")
    await settle()
    assert await old.nothing()


async def test_only_the_old_event_set_reaches_old_clients(old, token, tenant):
    # given: a /ws client sees everything, as the reference
    new = await connect("/ws", token=token)

    # when: a project, a task, a subtask, then events the old server never sent
    def cause() -> Any:
        from maestro.write_path.services import announce_checkpoint
        from orchestration.work.services.tasks import subtask_create, task_update

        project = _project(tenant)
        task = _task(tenant, project)
        task_update(tenant=tenant, task_id=task.id, actor=SYSTEM, changes={"status": "in_progress"})
        subtask_create(tenant=tenant, task_id=task.id, actor=SYSTEM, title="S")
        announce_checkpoint(tenant.pk, {"treeSize": 1})
        return project

    await in_thread(cause)()

    # then
    before, checkpoint = await new.recv_until("ledger:checkpoint")
    assert "audit:created" in [m["type"] for m in before]
    seen_old = [m["type"] for m in await old.recv_many(5)]
    assert seen_old == ["project:created", "task:created", "task:updated", "subtask:created", "task:updated"]
    await settle()
    assert await old.nothing()
    await new.close()


async def test_a_spawn_shows_on_old_clients_as_its_spawn_request_first(old, token, tenant):
    # given
    new = await connect("/ws", token=token)

    def given() -> tuple[Any, Any]:
        project = _project(tenant)
        return project, _task(tenant, project)

    project, task = await in_thread(given)()
    await old.recv_many(2)
    await new.recv_many(4)

    # when
    def spawn() -> Any:
        from orchestration.work.services.sessions import session_spawn

        return session_spawn(tenant=tenant, actor=SYSTEM, project=project, task_ids=[task.id],
                             skills=["test-skill"], session_name="Worker")[0]

    session = await in_thread(spawn)()

    # then: the spawn request comes first, with the fields the old clients read, then the session
    request = await old.recv()
    assert request["type"] == request["event"] == "session:spawn_request"
    data = request["data"]
    assert (data["session"]["id"], data["session"]["status"], data["projectId"], data["taskIds"],
            data["skillIds"], data["name"]) == (session.id, "spawning", project.id, [task.id], ["test-skill"], "Worker")
    assert [m["type"] for m in await old.recv_many(3)] == ["session:created", "task:session_added", "task:updated"]
    await settle()
    assert await old.nothing()
    # and /ws clients get the same spawn request first, then the whole change with its audit event
    first = await new.recv()
    assert (first["type"], first["data"]) == ("session:spawn_request", data)
    assert [m["type"] for m in await new.recv_many(4)] == ["audit:created", "session:created", "task:session_added",
                                                          "task:updated"]
    await new.close()


async def test_ping_answers_the_old_pong_and_anything_else_is_ignored(old):
    # when: the old agents UI's heartbeat, a subscribe the old server never knew, and garbage
    for message in [{"type": "heartbeat"}, {"type": "keepalive"}, {"type": "subscribe", "topics": ["x"]},
                    [1], "not json"]:
        await old.send(message)

    # then: no error frames
    assert await old.nothing()
    await old.send({"type": "ping"})
    pong = await old.recv()
    assert set(pong) == {"type", "timestamp"}
    assert pong["type"] == "pong" and pong["timestamp"] > 1_600_000_000_000


async def test_an_event_committed_right_after_the_handshake_is_delivered(token, tenant):
    # given: the old clients send as soon as the socket is open
    client = await _old_client(token)

    # when
    project = await in_thread(_project)(tenant)

    # then
    assert (await client.recv())["data"]["id"] == project.id
    await client.close()


async def test_a_change_is_on_the_old_clients_socket_before_the_write_returns(old, tenant):
    # given: the old server sent a change's event from the handler that answered the write, so
    # the old clients (and their tests) take the next message after an answer as its event
    for n in range(5):
        # when
        project = await in_thread(_project)(tenant, f"P{n}")

        # then: already written to the socket, with nothing awaited in between
        assert old.comm.output_queue.qsize() == 1, n
        assert (await old.recv())["data"]["id"] == project.id


async def test_a_closed_old_client_does_not_hold_writes(token, tenant):
    # given
    client = await _old_client(token)
    await client.close()

    # when / then: the broadcast finds no connection to wait for
    project = await in_thread(_project)(tenant)
    assert project.id
    from realtime import broadcast

    assert broadcast._old_clients == {}


async def test_the_old_stream_still_requires_credentials(tenant):
    # given: no token, not from loopback in dev mode
    comm = communicator("/", client_addr=("203.0.113.9", 4000))

    # when
    accepted, _ = await comm.connect(timeout=5)

    # then
    assert accepted
    message = await comm.receive_output(timeout=5)
    assert (message["type"], message["code"]) == ("websocket.close", 4401)
    await comm.disconnect()


async def test_every_old_event_of_the_issue2_scenario_and_nothing_else(token, tenant):
    # given
    from tests.realtime.test_ws_events import run_issue2_scenario

    client = await _old_client(token)

    # when
    scenario = await in_thread(run_issue2_scenario)(tenant, token)

    # then: each step's events without its audit events
    expected = []
    for _, _, items in scenario.steps:
        expected.append(sorted(json.dumps(i, sort_keys=True) for i in items if i[0] != "audit:created"))
    got = await client.recv_many(sum(len(e) for e in expected))
    await settle()
    assert await client.nothing()
    assert all(set(m) == ENVELOPE and m["type"] == m["event"] for m in got)
    assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
    offset = 0
    for chunk in expected:
        assert sorted(json.dumps((m["type"], m["data"]), sort_keys=True) for m in got[offset:offset + len(chunk)]) \
            == chunk
        offset += len(chunk)
    await client.close()
