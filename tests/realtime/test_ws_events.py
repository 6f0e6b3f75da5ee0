"""Every issue #2 event reaches a WebSocket client with the exact envelope, the payload the
REST API returns, in log order with gapless seqs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from rest_framework.test import APIClient

from maestro.write_path.representations import audit_repr
from tests.factories import SYSTEM, make_token
from tests.realtime.conftest import connect, in_thread, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]

ENVELOPE_KEYS = {"type", "event", "data", "timestamp", "seq"}


class Scenario:
    """Runs services as an operator would and writes down, after each step, what the
    stream must carry: audit rows as stored, objects as ``GET`` returns them."""

    def __init__(self, tenant: Any, token: str) -> None:
        from maestro.write_path.models import AuditEvent

        self.tenant = tenant
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.steps: list[tuple[str, bool, list[tuple[str, dict[str, Any]]]]] = []
        self.audit_mark = AuditEvent.objects.filter(tenant=tenant).order_by("-id").values_list("id", flat=True).first()

    def get(self, path: str) -> dict[str, Any]:
        r = self.api.get(path)
        assert r.status_code == 200, r.content
        return r.json()

    def project(self, pid: str) -> dict[str, Any]:
        return self.get(f"/api/projects/{pid}")

    def task(self, tid: str) -> dict[str, Any]:
        return self.get(f"/api/tasks/{tid}")

    def session(self, sid: str) -> dict[str, Any]:
        return self.get(f"/api/sessions/{sid}")

    def subtask(self, tid: str, sid: str) -> dict[str, Any]:
        return next(s for s in self.task(tid)["subtasks"] if s["id"] == sid)

    def step(self, name: str, expected: list[tuple[str, Any]], *, ordered: bool = True) -> None:
        """``expected`` entries: (type, data); data ``None`` for audit:created, filled here
        from the audit rows the step wrote, in order."""
        from maestro.write_path.models import AuditEvent

        audits = list(AuditEvent.objects.filter(tenant=self.tenant, id__gt=self.audit_mark or 0).order_by("id"))
        if audits:
            self.audit_mark = audits[-1].id
        resolved = []
        for type_, data in expected:
            if type_ == "audit:created":
                assert audits, f"{name}: fewer audit rows than audit:created events"
                data = audit_repr(audits.pop(0))
            resolved.append((type_, data))
        assert audits == [], f"{name}: audit rows without an audit:created event"
        self.steps.append((name, ordered, resolved))


def run_issue2_scenario(tenant: Any, token: str) -> Scenario:
    from orchestration.work.services import projects, sessions, tasks

    sc = Scenario(tenant, token)
    a = "audit:created"

    p = projects.project_create(tenant=tenant, actor=SYSTEM, name="Payments", working_dir="/srv/pay")
    sc.step("project_create", [(a, None), ("project:created", sc.project(p.id))])
    projects.project_update(tenant=tenant, project_id=p.id, actor=SYSTEM, changes={"description": "money"})
    sc.step("project_update", [(a, None), ("project:updated", sc.project(p.id))])

    t1 = tasks.task_create(tenant=tenant, actor=SYSTEM, project=p, title="Charge cards")
    sc.step("task_create", [(a, None), ("task:created", sc.task(t1.id))])
    tasks.task_update(tenant=tenant, task_id=t1.id, actor=SYSTEM, changes={"status": "in_progress"})
    sc.step("task_update", [(a, None), ("task:updated", sc.task(t1.id))])

    st = tasks.subtask_create(tenant=tenant, task_id=t1.id, actor=SYSTEM, title="Retry logic")
    sc.step("subtask_create", [(a, None), ("subtask:created", sc.subtask(t1.id, st.id)),
                               ("task:updated", sc.task(t1.id))])
    tasks.subtask_update(tenant=tenant, task_id=t1.id, subtask_id=st.id, actor=SYSTEM, changes={"completed": True})
    sc.step("subtask_update", [(a, None), ("subtask:updated", sc.subtask(t1.id, st.id)),
                               ("task:updated", sc.task(t1.id))])
    tasks.subtask_delete(tenant=tenant, task_id=t1.id, subtask_id=st.id, actor=SYSTEM)
    sc.step("subtask_delete", [(a, None), ("subtask:deleted", {"id": st.id}), ("task:updated", sc.task(t1.id))])

    t2 = tasks.task_create(tenant=tenant, actor=SYSTEM, project=p, title="Refunds")
    sc.step("task_create 2", [(a, None), ("task:created", sc.task(t2.id))])

    s = sessions.session_create(tenant=tenant, actor=SYSTEM, project=p, task_ids=[t1.id])
    pair1 = {"sessionId": s.id, "taskId": t1.id}
    sc.step("session_create", [(a, None), ("session:created", sc.session(s.id)),
                               ("task:session_added", pair1), ("task:updated", sc.task(t1.id))], ordered=False)
    sessions.session_update(tenant=tenant, session_id=s.id, actor=SYSTEM, changes={"agent_id": "planner"})
    sc.step("session_update", [(a, None), ("session:updated", sc.session(s.id))])

    pair2 = {"sessionId": s.id, "taskId": t2.id}
    sessions.session_task_add(tenant=tenant, session_id=s.id, task_id=t2.id, actor=SYSTEM)
    sc.step("session_task_add", [(a, None), ("session:updated", sc.session(s.id)), ("session:task_added", pair2),
                                 ("task:session_added", pair2), ("task:updated", sc.task(t2.id))], ordered=False)
    sessions.session_task_remove(tenant=tenant, session_id=s.id, task_id=t2.id, actor=SYSTEM)
    sc.step("session_task_remove", [(a, None), ("session:updated", sc.session(s.id)), ("session:task_removed", pair2),
                                    ("task:session_removed", pair2), ("task:updated", sc.task(t2.id))], ordered=False)

    spawned, manifest = sessions.session_spawn(tenant=tenant, actor=SYSTEM, project=p, task_ids=[t2.id])
    spawn_pair = {"sessionId": spawned.id, "taskId": t2.id}
    sc.step("session_spawn", [(a, None), ("session:created", sc.session(spawned.id)),
                              ("task:session_added", spawn_pair), ("task:updated", sc.task(t2.id)),
                              ("session:spawn_request", {"session": sc.session(spawned.id), "projectId": p.id,
                                                         "taskIds": [t2.id], "skillIds": ["maestro-worker"],
                                                         "name": spawned.name, "sessionId": spawned.id,
                                                         "manifest": json.loads(json.dumps(manifest))})],
            ordered=False)

    sessions.session_delete(tenant=tenant, session_id=s.id, actor=SYSTEM)
    sc.step("session_delete", [(a, None), ("session:deleted", {"id": s.id}),
                               ("task:session_removed", pair1), ("task:updated", sc.task(t1.id))], ordered=False)

    tasks.task_delete(tenant=tenant, task_id=t2.id, actor=SYSTEM)  # still linked to the spawned session
    sc.step("task_delete", [(a, None), ("task:deleted", {"id": t2.id}), ("session:task_removed", spawn_pair)],
            ordered=False)
    sessions.session_delete(tenant=tenant, session_id=spawned.id, actor=SYSTEM)
    sc.step("session_delete 2", [(a, None), ("session:deleted", {"id": spawned.id})])
    tasks.task_delete(tenant=tenant, task_id=t1.id, actor=SYSTEM)
    sc.step("task_delete 2", [(a, None), ("task:deleted", {"id": t1.id})])
    projects.project_delete(tenant=tenant, project_id=p.id, actor=SYSTEM)
    sc.step("project_delete", [(a, None), ("project:deleted", {"id": p.id})])
    return sc


def _canon(items: list[tuple[str, Any]]) -> list[str]:
    return sorted(json.dumps(i, sort_keys=True) for i in items)


async def test_every_issue2_event_is_delivered_exactly_in_log_order(tenant):
    # given
    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    client = await connect("/ws", token=token)
    head = client.hello["seq"]

    # when
    scenario = await in_thread(run_issue2_scenario)(tenant, token)

    # then: one message per expected event, nothing more
    total = sum(len(items) for _, _, items in scenario.steps)
    got = await client.recv_many(total)
    await settle()
    assert await client.nothing()
    # the exact envelope, seqs consecutive from the head the greeting named
    assert all(set(m) == ENVELOPE_KEYS and m["type"] == m["event"] for m in got)
    assert all(isinstance(m["timestamp"], int) for m in got)
    assert [m["seq"] for m in got] == list(range(head + 1, head + 1 + total))
    # the same envelopes the event log keeps
    from realtime.models import Event

    logged = await in_thread(lambda: [e.envelope() for e in Event.objects.filter(
        tenant=tenant, seq__gt=head).order_by("seq")])()
    assert got == logged
    # each step's events, with the payload the REST API returns
    offset = 0
    for name, ordered, expected in scenario.steps:
        chunk = [(m["type"], m["data"]) for m in got[offset:offset + len(expected)]]
        offset += len(expected)
        if ordered:
            assert chunk == expected, name
        else:
            assert _canon(chunk) == _canon(expected), name
    # every issue #2 type occurred
    assert {m["type"] for m in got} == {
        "audit:created", "project:created", "project:updated", "project:deleted", "task:created", "task:updated",
        "task:deleted", "session:created", "session:updated", "session:deleted", "session:spawn_request",
        "session:task_added", "session:task_removed", "task:session_added", "task:session_removed",
        "subtask:created", "subtask:updated", "subtask:deleted",
    }
    await client.close()


async def test_a_rolled_back_change_sends_nothing(tenant):
    # given: a project with a task cannot be deleted
    from orchestration.work.services.projects import project_create, project_delete
    from orchestration.work.services.tasks import task_create
    from realtime.selectors import event_stream_head_of

    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")

    def setup() -> Any:
        p = project_create(tenant=tenant, actor=SYSTEM, name="Busy")
        task_create(tenant=tenant, actor=SYSTEM, project=p, title="Blocker")
        return p

    project = await in_thread(setup)()
    client = await connect("/ws", token=token)
    head = client.hello["seq"]

    # when
    def refused() -> str:
        try:
            project_delete(tenant=tenant, project_id=project.id, actor=SYSTEM)
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__
        return "no error"

    outcome = await in_thread(refused)()

    # then: the refused delete sent nothing of its own; its denial is the one event (and seq)
    assert outcome == "ProjectHasDependencies"
    got = await client.recv_many(1)
    assert [(m["type"], m["data"]["action"], m["data"]["status"]) for m in got] == [
        ("audit:created", "project.delete", "denied")]
    await settle()
    assert await client.nothing()
    assert await in_thread(event_stream_head_of)(tenant.pk) == head + 1
    await client.close()


async def test_a_change_rolled_back_by_its_caller_sends_nothing(tenant):
    # given
    from maestro.write_path.services import service
    from orchestration.work.services.projects import project_create
    from orchestration.work.services.tasks import task_create
    from realtime.selectors import event_stream_head_of

    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    project = await in_thread(project_create)(tenant=tenant, actor=SYSTEM, name="Busy")
    client = await connect("/ws", token=token)
    head = client.hello["seq"]

    # when: a unit writes a task, then its caller changes its mind
    def rolled_back() -> None:
        try:
            with service():
                task_create(tenant=tenant, actor=SYSTEM, project=project, title="Never")
                raise RuntimeError("caller changes its mind")
        except RuntimeError:
            pass

    await in_thread(rolled_back)()

    # then: no event was broadcast and no seq was used
    await settle()
    assert await client.nothing()
    assert await in_thread(event_stream_head_of)(tenant.pk) == head
    await client.close()


async def test_an_admin_edit_reaches_the_socket_like_an_api_call(tenant):
    # given: a superuser editing a project in the Django admin
    from django.contrib.auth import get_user_model
    from django.test import Client as HttpClient

    from orchestration.work.services.projects import project_create

    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="operator")
    project = await in_thread(project_create)(tenant=tenant, actor=SYSTEM, name="Before")

    def admin_client() -> HttpClient:
        admin = get_user_model().objects.create_superuser(username="root", password="pw-for-tests")
        http = HttpClient()
        http.force_login(admin)
        return http

    http = await in_thread(admin_client)()
    client = await connect("/ws", token=token)

    # when
    def edit() -> int:
        url = f"/admin/orchestration/project/{quote(project.id)}/change/"
        form = http.get(url)
        assert form.status_code == 200, form.status_code
        data = {"name": "After", "working_dir": "", "description": "", "expected_version": 1, "_save": "Save"}
        for inline in form.context["inline_admin_formsets"]:  # the project has no tasks: empty inlines
            prefix = inline.formset.prefix
            data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0,
                         f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
        return http.post(url, data).status_code

    status = await in_thread(edit)()

    # then
    assert status == 302
    got = await client.recv_many(2)
    assert [m["type"] for m in got] == ["audit:created", "project:updated"]
    assert got[1]["data"]["name"] == "After"
    assert got[0]["data"]["actor"] == "root"
    await client.close()


async def test_a_commit_in_a_plain_thread_reaches_the_socket(tenant):
    # given: a connected client, and a thread with no event loop of its own committing — the
    # embedded scheduler's thread, a job run in-process, a shell
    import threading

    from django.db import connection

    from orchestration.work.services.projects import project_create

    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="viewer")
    client = await connect("/ws", token=token)

    def commit() -> None:
        try:
            project_create(tenant=tenant, actor=SYSTEM, name="From a thread")
        finally:
            connection.close()

    # when: the test's loop does nothing but wait for the socket meanwhile
    worker = threading.Thread(target=commit)
    worker.start()
    got = await client.recv_many(2, timeout=5)

    # then
    worker.join(5)
    assert [(m["type"], m["seq"]) for m in got] == [("audit:created", client.hello["seq"] + 1),
                                                    ("project:created", client.hello["seq"] + 2)]
    assert got[1]["data"]["name"] == "From a thread"
    await client.close()
