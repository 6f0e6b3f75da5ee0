"""Client → server messages: ping, subscribe, and what happens to bad ones."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import Client, connect, in_thread, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("configured_layer")]


@pytest.fixture
async def client(tenant) -> Any:
    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    c = await connect("/ws", token=token)
    yield c
    await c.close()


def _project(tenant: Any, name: str) -> Any:
    from orchestration.work.services.projects import project_create

    return project_create(tenant=tenant, actor=SYSTEM, name=name)


def _task(tenant: Any, project: Any, title: str) -> Any:
    from orchestration.work.services.tasks import task_create

    return task_create(tenant=tenant, actor=SYSTEM, project=project, title=title)


async def _still_usable(client: Client) -> None:
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"


async def test_ping_answers_pong_with_time_and_position(client):
    # when
    await client.send({"type": "ping"})

    # then
    pong = await client.recv()
    assert set(pong) == {"type", "timestamp", "seq"}
    assert pong["type"] == "pong"
    assert isinstance(pong["timestamp"], int) and pong["timestamp"] > 1_600_000_000_000
    assert pong["seq"] == client.hello["seq"]


async def test_subscribe_task_wildcard_gets_only_task_events(client, tenant):
    # given
    await client.send({"type": "subscribe", "topics": ["task:*"]})
    assert await client.recv() == {"type": "subscribed", "topics": ["task:*"], "projectId": None}

    # when: a project (project + audit events) and a task (task + audit events)
    def cause() -> Any:
        p = _project(tenant, "P")
        return _task(tenant, p, "T")

    task = await in_thread(cause)()

    # then
    got = await client.recv()
    assert (got["type"], got["data"]["id"]) == ("task:created", task.id)
    await settle()
    assert await client.nothing()


async def test_subscribe_exact_names(client, tenant):
    # given
    await client.send({"type": "subscribe", "topics": ["project:created", "task:deleted"]})
    await client.recv()

    # when
    def cause() -> Any:
        from orchestration.work.services.projects import project_update
        from orchestration.work.services.tasks import task_delete

        p = _project(tenant, "P")
        project_update(tenant=tenant, project_id=p.id, actor=SYSTEM, changes={"name": "Q"})
        t = _task(tenant, p, "T")
        task_delete(tenant=tenant, task_id=t.id, actor=SYSTEM)
        return p, t

    project, task = await in_thread(cause)()

    # then
    got = await client.recv_many(2)
    assert [(m["type"], m["data"]["id"]) for m in got] == [("project:created", project.id), ("task:deleted", task.id)]
    await settle()
    assert await client.nothing()


@pytest.mark.parametrize("topics", [["*"], [], None])
async def test_subscribe_everything(client, tenant, topics):
    # given: first narrowed, then widened again
    await client.send({"type": "subscribe", "topics": ["loop:*"]})
    await client.recv()
    message: dict[str, Any] = {"type": "subscribe"}
    if topics is not None:
        message["topics"] = topics
    await client.send(message)
    assert await client.recv() == {"type": "subscribed", "topics": ["*"], "projectId": None}

    # when
    await in_thread(_project)(tenant, "P")

    # then
    assert [m["type"] for m in await client.recv_many(2)] == ["audit:created", "project:created"]


async def test_subscribe_project_filters_out_other_projects(client, tenant):
    # given
    mine, other = await in_thread(lambda: (_project(tenant, "Mine"), _project(tenant, "Other")))()
    await client.recv_many(4)  # their creation
    await client.send({"type": "subscribe", "projectId": mine.id})
    assert await client.recv() == {"type": "subscribed", "topics": ["*"], "projectId": mine.id}

    # when: tasks in both projects, and a change with no project at all
    def cause() -> Any:
        from maestro.tenancy.services import membership_set

        _task(tenant, other, "Theirs")
        t = _task(tenant, mine, "Ours")
        from django.contrib.auth import get_user_model

        membership_set(user=get_user_model().objects.get(username="olivia"), tenant=tenant, role="admin",
                       actor=SYSTEM)
        return t

    task = await in_thread(cause)()

    # then: only my project's events, its audit event included
    got = await client.recv_many(2)
    assert [m["type"] for m in got] == ["audit:created", "task:created"]
    assert got[0]["data"]["resource"] == task.id
    assert got[1]["data"]["id"] == task.id
    await settle()
    assert await client.nothing()


async def test_subscribe_to_a_project_of_another_tenant_is_refused(client, tenant, other_tenant):
    # given
    foreign = await in_thread(_project)(other_tenant, "Not yours")
    await client.send({"type": "subscribe", "topics": ["task:*"]})
    await client.recv()

    # when
    await client.send({"type": "subscribe", "topics": ["project:*"], "projectId": foreign.id})

    # then: an error, and the previous subscription still holds
    assert await client.recv() == {"type": "error", "code": "PROJECT_NOT_FOUND", "message": "Project not found"}
    await in_thread(_project)(tenant, "Mine")
    await settle()
    assert await client.nothing()
    await _still_usable(client)


BAD_MESSAGES = [
    ([1, 2], "message must be a JSON object"),
    ("null", "message must be a JSON object"),
    ('"ping"', "message must be a JSON object"),
    ("{not json", "message is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "message is not valid JSON"),  # deeper than the parser's stack
    ({"type": "dance"}, "unknown message type 'dance'"),
    ({"kind": "ping"}, "type is required"),
    ({"type": "resume"}, "afterSeq must be a non-negative integer"),
    ({"type": "resume", "afterSeq": -1}, "afterSeq must be a non-negative integer"),
    ({"type": "resume", "afterSeq": "3"}, "afterSeq must be a non-negative integer"),
    ({"type": "resume", "afterSeq": 1.5}, "afterSeq must be a non-negative integer"),
    ({"type": "resume", "afterSeq": True}, "afterSeq must be a non-negative integer"),
    ({"type": "subscribe", "topics": "task:*"}, "topics must be a list of strings"),
    ({"type": "subscribe", "topics": [1]}, "topics must be a list of strings"),
    ({"type": "subscribe", "topics": ["task"]}, "topics must look like 'task:*', 'task:created' or '*', not 'task'"),
    ({"type": "subscribe", "topics": ["*:created"]},
     "topics must look like 'task:*', 'task:created' or '*', not '*:created'"),
    ({"type": "subscribe", "topics": ["t:*"] * 65}, "at most 64 topics"),
    ({"type": "subscribe", "projectId": 7}, "projectId must be a non-empty string or null"),
    ({"type": "subscribe", "projectId": ""}, "projectId must be a non-empty string or null"),
]


async def test_bad_messages_answer_an_error_and_the_connection_stays_usable(client, tenant):
    # given: a narrowed subscription that a bad subscribe must not change
    await client.send({"type": "subscribe", "topics": ["project:created"]})
    await client.recv()

    for message, error in BAD_MESSAGES:
        # when
        await client.send(message)

        # then
        assert await client.recv() == {"type": "error", "code": "VALIDATION_ERROR", "message": error}, message
        await _still_usable(client)

    # and the subscription and the stream are as before
    project = await in_thread(_project)(tenant, "Still live")
    got = await client.recv()
    assert (got["type"], got["data"]["id"]) == ("project:created", project.id)
    await settle()
    assert await client.nothing()


async def test_binary_frames_answer_an_error(client):
    # when
    await client.comm.send_to(bytes_data=b'{"type":"ping"}')

    # then
    assert await client.recv() == {"type": "error", "code": "VALIDATION_ERROR",
                                   "message": "messages must be JSON text frames"}
    await _still_usable(client)
