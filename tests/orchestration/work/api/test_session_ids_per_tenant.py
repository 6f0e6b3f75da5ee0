"""A session id is unique within its tenant, not across tenants: the old clients choose their
own ``sess_…`` ids, and a 409 for an id another tenant holds would tell the caller that it
exists there. Two tenants' sessions with one id live side by side, each seen and changed only
by its own tenant; within a tenant a reused id is still a 409."""

from __future__ import annotations

import pytest

from orchestration.work.models import Session, SessionEvent, SessionTask, SessionTimelineEvent
from tests.factories import make_task
from tests.support.api import assert_error
from tests.support.writes import Mark

SID = "sess_1706789177158_uq80idw37"


@pytest.fixture
def theirs(api_client, tenant, project, task):
    """Tenant A's session ``SID``, linked to A's task, with an event and a timeline entry."""
    r = api_client.post("/api/sessions", {"projectId": project.id, "taskIds": [task.id], "id": SID,
                                          "name": "A's worker", "env": {"A": "1"}}, format="json")
    assert r.status_code == 201, r.content
    api_client.post(f"/api/sessions/{SID}/events", {"type": "a-event"}, format="json")
    api_client.post(f"/api/sessions/{SID}/timeline", {"message": "a-progress"}, format="json")
    return api_client.get(f"/api/sessions/{SID}").json()


@pytest.fixture
def their_task_now(api_client, task):
    return lambda: api_client.get(f"/api/tasks/{task.id}").json()


def test_another_tenant_may_create_a_session_with_an_id_this_tenant_uses(
        api_client, other_client, tenant, other_tenant, foreign_project, theirs, their_task_now):
    # given
    b_task = make_task(other_tenant, foreign_project, "B's task")
    a_task_before = their_task_now()
    before_a, before_b = Mark(tenant), Mark(other_tenant)
    # when
    r = other_client.post("/api/sessions", {"projectId": foreign_project.id, "taskIds": [b_task.id], "id": SID,
                                            "name": "B's worker"}, format="json")
    # then
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["id"], body["name"], body["projectId"], body["taskIds"], body["env"], body["events"]) == (
        SID, "B's worker", foreign_project.id, [b_task.id], {}, [])
    assert other_client.get(f"/api/sessions/{SID}").json() == body
    assert api_client.get(f"/api/sessions/{SID}").json() == theirs
    assert [s["name"] for s in other_client.get("/api/sessions").json()] == ["B's worker"]
    assert [s["name"] for s in api_client.get("/api/sessions").json()] == ["A's worker"]
    assert Session.objects.filter(id=SID).count() == 2
    assert their_task_now() == a_task_before
    assert other_client.get(f"/api/tasks/{b_task.id}").json()["sessionIds"] == [SID]
    before_b.assert_written(["audit:created", "session:created", "task:session_added", "task:updated"],
                            action="session.create", resource=SID, actor="oscar")
    assert [a for a in before_a.audits() if a.tenant_id == tenant.pk] == []
    assert [e for e in before_a.events() if e.tenant_id == tenant.pk] == []


def test_a_tenant_reusing_its_own_id_is_still_409_when_another_tenant_has_it_too(
        api_client, other_client, tenant, other_tenant, project, foreign_project, theirs):
    # given
    other_client.post("/api/sessions", {"projectId": foreign_project.id, "taskIds": [], "id": SID}, format="json")
    for client, owner, where, actor in ((api_client, tenant, project, "olivia"),
                                        (other_client, other_tenant, foreign_project, "oscar")):
        before = Mark(owner)
        # when
        r = client.post("/api/sessions", {"projectId": where.id, "taskIds": [], "id": SID}, format="json")
        # then
        body = assert_error(r, 409, "CONFLICT", f"Session {SID} already exists")
        assert body["details"] == {"id": SID, "policy": "unique_id"}
        denial = before.assert_denied(policy_id="unique_id", actor=actor)
        assert (denial.action, denial.resource, denial.tenant_id) == ("session.create", SID, owner.pk)
    assert api_client.get(f"/api/sessions/{SID}").json() == theirs


def test_patch_events_timeline_and_links_of_one_tenant_leave_the_other_tenants_session_alone(
        api_client, other_client, other_tenant, foreign_project, theirs, their_task_now):
    # given
    b_task = make_task(other_tenant, foreign_project, "B's task")
    b_second = make_task(other_tenant, foreign_project, "B's second")
    other_client.post("/api/sessions", {"projectId": foreign_project.id, "taskIds": [b_task.id], "id": SID},
                      format="json")
    a_task_before = their_task_now()
    # when
    patched = other_client.patch(f"/api/sessions/{SID}", {"name": "renamed", "status": "completed",
                                                           "taskIds": [b_second.id]}, format="json")
    event = other_client.post(f"/api/sessions/{SID}/events", {"type": "b-event"}, format="json")
    timeline = other_client.post(f"/api/sessions/{SID}/timeline", {"message": "b-progress"}, format="json")
    linked = other_client.post(f"/api/sessions/{SID}/tasks/{b_task.id}")
    unlinked = other_client.delete(f"/api/sessions/{SID}/tasks/{b_second.id}")
    # then
    assert [x.status_code for x in (patched, event, timeline, linked, unlinked)] == [200] * 5
    mine = other_client.get(f"/api/sessions/{SID}").json()
    assert (mine["name"], mine["status"], mine["taskIds"]) == ("renamed", "completed", [b_task.id])
    assert [e["type"] for e in mine["events"]] == ["b-event"]
    assert [e["message"] for e in mine["timeline"]] == ["b-progress"]
    assert api_client.get(f"/api/sessions/{SID}").json() == theirs
    assert their_task_now() == a_task_before
    assert [t["id"] for t in other_client.get(f"/api/tasks?sessionId={SID}").json()] == [b_task.id]
    assert [t["id"] for t in api_client.get(f"/api/tasks?sessionId={SID}").json()] == [theirs["taskIds"][0]]


def test_a_tenant_cannot_reach_a_session_id_it_does_not_have(api_client, other_client, other_tenant,
                                                             foreign_project, theirs, their_task_now):
    # given
    b_task = make_task(other_tenant, foreign_project, "B's task")
    before = Mark(other_tenant)
    a_task_before = their_task_now()
    # when
    responses = [other_client.get(f"/api/sessions/{SID}"),
                 other_client.patch(f"/api/sessions/{SID}", {"name": "x"}, format="json"),
                 other_client.post(f"/api/sessions/{SID}/events", {"type": "x"}, format="json"),
                 other_client.post(f"/api/sessions/{SID}/tasks/{b_task.id}"),
                 other_client.delete(f"/api/sessions/{SID}")]
    # then
    for r in responses:
        assert_error(r, 404, "SESSION_NOT_FOUND", "Session not found")
    before.assert_nothing_written()
    assert api_client.get(f"/api/sessions/{SID}").json() == theirs
    assert their_task_now() == a_task_before


def test_deleting_one_tenants_session_keeps_the_other_tenants_one(
        api_client, other_client, other_tenant, foreign_project, theirs, their_task_now):
    # given
    b_task = make_task(other_tenant, foreign_project, "B's task")
    other_client.post("/api/sessions", {"projectId": foreign_project.id, "taskIds": [b_task.id], "id": SID},
                      format="json")
    other_client.post(f"/api/sessions/{SID}/events", {"type": "b-event"}, format="json")
    a_task_before = their_task_now()
    before = Mark(other_tenant)
    # when
    r = other_client.delete(f"/api/sessions/{SID}")
    # then
    assert r.status_code == 200, r.content
    assert r.json() == {"success": True, "id": SID}
    assert_error(other_client.get(f"/api/sessions/{SID}"), 404, "SESSION_NOT_FOUND", "Session not found")
    assert other_client.get(f"/api/tasks/{b_task.id}").json()["sessionIds"] == []
    before.assert_written(["audit:created", "session:deleted", "task:session_removed", "task:updated"],
                          action="session.delete", resource=SID, actor="oscar")
    assert api_client.get(f"/api/sessions/{SID}").json() == theirs
    assert their_task_now() == a_task_before
    assert (Session.objects.filter(id=SID).count(), SessionTask.objects.filter(session__id=SID).count(),
            SessionEvent.objects.filter(session__id=SID).count(),
            SessionTimelineEvent.objects.filter(session__id=SID).count()) == (1, 1, 1, 1)


def test_spawned_sessions_stay_in_their_tenant(api_client, other_client, other_tenant, foreign_project, theirs):
    # given
    b_task = make_task(other_tenant, foreign_project, "B's task")
    # when
    r = other_client.post("/api/sessions/spawn", {"projectId": foreign_project.id, "taskIds": [b_task.id],
                                                  "sessionId": SID}, format="json")
    # then
    assert r.status_code == 201, r.content
    spawned = r.json()["sessionId"]
    assert r.json()["session"]["metadata"]["spawnedBy"] == SID
    assert [s["id"] for s in other_client.get("/api/sessions").json()] == [spawned]
    assert [s["id"] for s in api_client.get("/api/sessions").json()] == [SID]
    assert api_client.get(f"/api/sessions/{SID}").json() == theirs
    assert_error(api_client.get(f"/api/sessions/{spawned}"), 404, "SESSION_NOT_FOUND", "Session not found")
