from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from maestro.tenancy.models import Tenant
from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project, SessionTask
from orchestration.work.representations import task_repr
from orchestration.work.selectors.tasks import task_get
from realtime.models import Event
from tests.orchestration.legacy.helpers import DOCS, PAYMENTS, dump, files, run, write_json
from tests.support.writes import store_counts

pytestmark = pytest.mark.django_db
SHARED = "sess_1706789174690_j99ibag7i"  # "Worker 1" of the sample files


def test_import_creates_every_project_task_and_session(tenant, legacy_dir: Path):
    # when
    result = run("maestro_import", "--data-dir", str(legacy_dir))

    # then
    assert result.error is None, result.err
    assert result.err == ""
    data = dump(tenant)
    assert sorted(data["projects"]) == [PAYMENTS, DOCS]
    assert len(data["tasks"]) == 12
    assert "task_1706789138895_gxbenyjqw" in data["tasks"]  # the legacy flat tasks/<id>.json
    assert len(data["sessions"]) == 5
    assert "  projects: 2 created, 0 updated, 0 unchanged, 0 skipped" in result.out
    assert "  tasks: 12 created, 0 updated, 0 unchanged, 0 skipped" in result.out
    assert "  sessions: 5 created, 0 updated, 0 unchanged, 0 skipped" in result.out
    assert "  links: 10 created" in result.out


def test_import_keeps_every_field_id_and_timestamp_of_the_files(tenant, legacy_dir: Path):
    # when
    run("maestro_import", "--data-dir", str(legacy_dir))

    # then: every field a file has comes back unchanged through the API representation
    data = dump(tenant)
    for project_id, source in files(legacy_dir, "project").items():
        assert {k: v for k, v in data["projects"][project_id].items() if k != "version"} == source
    for task_id, source in files(legacy_dir, "task").items():
        imported = data["tasks"][task_id]
        for key, value in source.items():
            if key != "sessionIds":  # links are the union of both sides, checked below
                assert imported[key] == value, (task_id, key)
    for session_id, source in files(legacy_dir, "session").items():
        imported = data["sessions"][session_id]
        for key, value in source.items():
            if key not in ("taskIds", "taskId"):
                assert imported[key] == value, (session_id, key)


def test_import_keeps_timestamps_to_the_millisecond(tenant, legacy_dir: Path):
    # when
    run("maestro_import", "--data-dir", str(legacy_dir))

    # then
    task = dump(tenant)["tasks"]["task_1706789136564_ywb3wkh5d"]
    assert (task["createdAt"], task["updatedAt"]) == (1706789136564, 1706789136664)
    assert task["timeline"] == [{"id": "evt_1706789136564_nsipzz5fk", "type": "created",
                                 "timestamp": 1706789136564, "message": "Task created"}]
    assert task["subtasks"][0]["id"] == "sub_1706789136564_2z9ri19r0"
    assert task["subtasks"][0]["completedAt"] == 1706789136569
    assert task["subtasks"][1]["completedAt"] is None
    done = dump(tenant)["tasks"]["task_1706789135010_plpft75v2"]
    assert (done["startedAt"], done["completedAt"]) == (1706789135060, 1706789135100)
    session = dump(tenant)["sessions"]["sess_1706789175924_1mnbqns6p"]
    assert (session["startedAt"], session["lastActivity"], session["completedAt"]) == (
        1706789175924, 1706789175934, None)


def test_import_applies_the_old_loaders_migrations(tenant, legacy_dir: Path):
    # when
    run("maestro_import", "--data-dir", str(legacy_dir))

    # then: the session saved with a single taskId, no name and no env
    data = dump(tenant)
    old = data["sessions"]["sess_1706789173456_kkibj3j4w"]
    assert old["taskIds"][0] == "task_1706789133456_91dhodzdo"
    assert old["name"] == "Session sess_1706789173456_kkibj3j4w"
    assert old["env"] == {}
    assert old["metadata"] == {}
    assert data["sessions"]["sess_1706789175924_1mnbqns6p"]["name"] == "Session sess_1706789175924_1mnbqns6p"
    assert data["sessions"]["sess_1706789174690_j99ibag7i"]["name"] == "Worker 1"
    # a task saved before sessionIds/skillIds/agentIds existed
    blocked = data["tasks"]["task_1706789135787_0ce9uvw53"]
    assert blocked["sessionIds"] == blocked["skillIds"] == blocked["agentIds"] == blocked["dependencies"] == []
    assert blocked["subtasks"] == []


def test_import_links_tasks_and_sessions_from_both_sides(tenant, legacy_dir: Path):
    # when
    run("maestro_import", "--data-dir", str(legacy_dir))

    # then: task_..plpft75v2 names sess_..kkibj3j4w, which only names task_..91dhodzdo: the
    # union holds, and both directions agree; a task's sessions are in start order
    data = dump(tenant)
    assert {s: v["taskIds"] for s, v in data["sessions"].items()} == {
        "sess_1706789173456_kkibj3j4w": ["task_1706789133456_91dhodzdo", "task_1706789135010_plpft75v2"],
        "sess_1706789174690_j99ibag7i": ["task_1706789135010_plpft75v2", "task_1706789136564_ywb3wkh5d"],
        "sess_1706789175924_1mnbqns6p": ["task_1706789136564_ywb3wkh5d", "task_1706789138118_zzg4zdmen"],
        "sess_1706789177158_uq80idw37": ["task_1706789138118_zzg4zdmen", "task_1706789139672_fjgvq4k7b"],
        "sess_1706789178392_06i8j76b2": ["task_1706789139672_fjgvq4k7b", "task_1706789141226_wbbr4qmw2"],
    }
    linked = {t: v["sessionIds"] for t, v in data["tasks"].items() if v["sessionIds"]}
    assert linked == {
        "task_1706789133456_91dhodzdo": ["sess_1706789173456_kkibj3j4w"],
        "task_1706789135010_plpft75v2": ["sess_1706789173456_kkibj3j4w", "sess_1706789174690_j99ibag7i"],
        "task_1706789136564_ywb3wkh5d": ["sess_1706789174690_j99ibag7i", "sess_1706789175924_1mnbqns6p"],
        "task_1706789138118_zzg4zdmen": ["sess_1706789175924_1mnbqns6p", "sess_1706789177158_uq80idw37"],
        "task_1706789139672_fjgvq4k7b": ["sess_1706789177158_uq80idw37", "sess_1706789178392_06i8j76b2"],
        "task_1706789141226_wbbr4qmw2": ["sess_1706789178392_06i8j76b2"],
    }
    assert SessionTask.objects.count() == 10
    assert data["tasks"]["task_1706789138118_zzg4zdmen"]["parentId"] == "task_1706789133456_91dhodzdo"


def test_import_goes_through_the_write_path_once_per_entity(tenant, legacy_dir: Path):
    # when
    run("maestro_import", "--data-dir", str(legacy_dir))

    # then: one audit row, ledger intake row and entity event per imported entity
    audits = AuditEvent.objects.filter(tenant=tenant)
    assert Counter(audits.values_list("action", flat=True)) == {
        "project.import": 2, "task.import": 12, "session.import": 5}
    assert set(audits.values_list("actor", "actor_type", "status")) == {("maestro_import", "system", "allowed")}
    assert store_counts()["IntakeEntry"] == 19
    events = Event.objects.filter(tenant=tenant)
    assert Counter(events.values_list("type", flat=True)) == {
        "audit:created": 19, "project:created": 2, "task:created": 12, "session:created": 5}
    assert sorted(events.values_list("seq", flat=True)) == list(range(1, 39))
    task_event = events.get(type="task:created", data__id="task_1706789138118_zzg4zdmen")
    assert task_event.data == task_repr(task_get(tenant=tenant, task_id="task_1706789138118_zzg4zdmen"))
    assert task_event.project_id == PAYMENTS


def test_second_import_changes_nothing(tenant, legacy_dir: Path, django_capture_on_commit_callbacks):
    # given
    with django_capture_on_commit_callbacks() as first_commit:
        run("maestro_import", "--data-dir", str(legacy_dir))
    before, rows = dump(tenant), store_counts()
    links = list(SessionTask.objects.values_list("id", "session_id", "task_id", "created_at"))

    # when
    with django_capture_on_commit_callbacks() as second_commit:
        result = run("maestro_import", "--data-dir", str(legacy_dir))

    # then: no new or updated rows, no audit, ledger or event rows, nothing to broadcast
    assert result.error is None, result.err
    assert len(first_commit) >= 1
    assert second_commit == []
    assert store_counts() == rows
    assert dump(tenant) == before
    assert list(SessionTask.objects.values_list("id", "session_id", "task_id", "created_at")) == links
    assert "  projects: 0 created, 0 updated, 2 unchanged, 0 skipped" in result.out
    assert "  tasks: 0 created, 0 updated, 12 unchanged, 0 skipped" in result.out
    assert "  sessions: 0 created, 0 updated, 5 unchanged, 0 skipped" in result.out
    assert "  links: 0 created" in result.out


def test_reimport_of_a_changed_file_updates_only_that_entity(tenant, legacy_copy: Path):
    # given
    run("maestro_import", "--data-dir", str(legacy_copy))
    path = legacy_copy / "tasks" / PAYMENTS / "task_1706789139672_fjgvq4k7b.json"
    source = files(legacy_copy, "task")["task_1706789139672_fjgvq4k7b"]
    write_json(path, {**source, "title": "Renamed", "status": "in_progress", "startedAt": 1706789140000,
                      "updatedAt": 1706789140001})
    project = files(legacy_copy, "project")[DOCS]
    write_json(legacy_copy / "projects" / f"{DOCS}.json", {**project, "name": "Docs"})
    before = dump(tenant)
    audits = AuditEvent.objects.count()

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then
    assert result.error is None, result.err
    after = dump(tenant)
    task = after["tasks"]["task_1706789139672_fjgvq4k7b"]
    assert (task["title"], task["status"], task["startedAt"], task["updatedAt"]) == (
        "Renamed", "in_progress", 1706789140000, 1706789140001)
    assert after["projects"][DOCS]["name"] == "Docs"
    assert after["projects"][DOCS]["version"] == 2
    assert after["projects"][PAYMENTS] == before["projects"][PAYMENTS]
    assert {k: v for k, v in after["tasks"].items() if k != "task_1706789139672_fjgvq4k7b"} == {
        k: v for k, v in before["tasks"].items() if k != "task_1706789139672_fjgvq4k7b"}
    new = AuditEvent.objects.order_by("id")[audits:]
    assert [(a.action, a.resource) for a in new] == [
        ("project.import", DOCS), ("task.import", "task_1706789139672_fjgvq4k7b")]
    assert "startedAt, status, title, updatedAt" in new[1].details
    assert Event.objects.filter(type="task:updated").get().data == task
    assert "  tasks: 0 created, 1 updated, 11 unchanged, 0 skipped" in result.out


def test_a_stale_file_never_undoes_or_deletes_what_maestro_added(tenant, legacy_dir: Path, api_client):
    # given: an imported task gains a timeline entry through the API
    run("maestro_import", "--data-dir", str(legacy_dir))
    response = api_client.post("/api/tasks/task_1706789135787_0ce9uvw53/timeline",
                               {"message": "picked up again"}, format="json")
    assert response.status_code == 200, response.content
    before = dump(tenant)

    # when
    result = run("maestro_import", "--data-dir", str(legacy_dir))

    # then: the file's entries are all there, and so is the new one; the newer row is kept
    assert result.error is None, result.err
    assert dump(tenant) == before
    path = legacy_dir / "tasks" / DOCS / "task_1706789135787_0ce9uvw53.json"
    assert result.err == (f"WARNING {path}: not updated: the row in Maestro is newer than the file "
                          "(updated_at differ); it is kept\n")
    assert [e["message"] for e in before["tasks"]["task_1706789135787_0ce9uvw53"]["timeline"]] == [
        "Task created", "picked up again"]


def test_dry_run_writes_nothing_not_even_the_tenant(db, legacy_dir: Path, django_capture_on_commit_callbacks):
    # given
    rows = store_counts()

    # when
    with django_capture_on_commit_callbacks() as on_commit:
        result = run("maestro_import", "--data-dir", str(legacy_dir), "--tenant", "acme", "--dry-run")

    # then: the report is the real one, the database is untouched, nothing is broadcast
    assert result.error is None, result.err
    assert on_commit == []
    assert "  tasks: 12 created, 0 updated, 0 unchanged, 0 skipped" in result.out
    assert "dry run: nothing was written" in result.out
    assert store_counts() == rows
    assert not Tenant.objects.filter(slug="acme").exists()


def test_import_creates_a_missing_tenant_and_imports_into_it(db, legacy_dir: Path):
    # when
    result = run("maestro_import", "--data-dir", str(legacy_dir), "--tenant", "acme")

    # then
    assert result.error is None, result.err
    acme = Tenant.objects.get(slug="acme")
    assert sorted(Project.objects.filter(tenant=acme).values_list("id", flat=True)) == [PAYMENTS, DOCS]


def test_default_data_dir_is_the_home_maestro_data(tenant, legacy_dir: Path, tmp_path: Path, monkeypatch):
    # given
    import shutil

    shutil.copytree(legacy_dir, tmp_path / ".maestro" / "data")
    monkeypatch.setenv("HOME", str(tmp_path))

    # when
    result = run("maestro_import")

    # then
    assert result.error is None, result.err
    assert f"data directory {tmp_path / '.maestro' / 'data'}:" in result.out
    assert Project.objects.filter(tenant=tenant).count() == 2


def test_missing_data_dir_is_an_error_and_writes_nothing(db, tmp_path: Path):
    # given
    rows = store_counts()

    # when
    result = run("maestro_import", "--data-dir", str(tmp_path / "nope"), "--tenant", "acme")

    # then
    assert str(result.error) == f"data directory {tmp_path / 'nope'} does not exist"
    assert store_counts() == rows


def test_invalid_tenant_slug_is_refused(db, legacy_dir: Path):
    # given
    rows = store_counts()

    # when
    result = run("maestro_import", "--data-dir", str(legacy_dir), "--tenant", "no such/tenant")

    # then
    assert str(result.error) == "--tenant 'no such/tenant' is not a valid tenant slug"
    assert store_counts() == rows


def test_ids_of_another_tenant_are_skipped_with_a_reason(tenant, other_tenant, legacy_dir: Path):
    # given: the Docs Site project id is already taken in another tenant
    from orchestration.work.services.projects import project_create
    from tests.factories import SYSTEM

    project_create(tenant=other_tenant, actor=SYSTEM, name="Theirs", project_id=DOCS)

    # when
    result = run("maestro_import", "--data-dir", str(legacy_dir))

    # then: it and its tasks are reported and skipped; the rest is imported
    assert result.error is not None
    project_file = legacy_dir / "projects" / f"{DOCS}.json"
    assert f"SKIPPED {project_file}: id {DOCS} already belongs to another tenant" in result.err
    flat = legacy_dir / "tasks" / "task_1706789138895_gxbenyjqw.json"
    assert f"SKIPPED {flat}: its project {DOCS} was skipped (see that file)" in result.err
    assert "  tasks: 6 created, 0 updated, 0 unchanged, 6 skipped" in result.out
    assert Project.objects.get(id=DOCS).tenant == other_tenant
    assert Project.objects.get(id=DOCS).name == "Theirs"
    assert sorted(dump(tenant)["projects"]) == [PAYMENTS]


def test_session_ids_another_tenant_also_uses_are_imported_and_theirs_left_alone(tenant, other_tenant,
                                                                                 legacy_dir: Path):
    # given: another tenant has a session with the id of one in the files, with an event and a task
    from orchestration.work.services.projects import project_create
    from orchestration.work.services.sessions import session_create, session_event_add
    from tests.factories import SYSTEM, make_task

    theirs = project_create(tenant=other_tenant, actor=SYSTEM, name="Theirs")
    their_task = make_task(other_tenant, theirs, "their task")
    session_create(tenant=other_tenant, actor=SYSTEM, project=theirs, task_ids=[their_task.id],
                   session_id=SHARED, name="their session")
    session_event_add(tenant=other_tenant, session_id=SHARED, actor=SYSTEM, type="theirs")
    their_data = dump(other_tenant)
    expected = files(legacy_dir, "session")[SHARED]

    # when
    result = run("maestro_import", "--data-dir", str(legacy_dir))

    # then: the file's session is imported into this tenant, whole, with its links
    assert result.error is None, result.err
    assert "  sessions: 5 created, 0 updated, 0 unchanged, 0 skipped" in result.out
    assert "  links: 10 created" in result.out
    mine = dump(tenant)["sessions"][SHARED]
    assert {k: mine[k] for k in ("name", "projectId", "taskIds", "startedAt", "hostname")} == {
        k: expected[k] for k in ("name", "projectId", "taskIds", "startedAt", "hostname")}
    for task_id in expected["taskIds"]:
        assert SHARED in dump(tenant)["tasks"][task_id]["sessionIds"]
    # and the other tenant's session is as it was
    assert dump(other_tenant) == their_data
    assert their_data["sessions"][SHARED]["taskIds"] == [their_task.id]
    assert SessionTask.objects.filter(session__id=SHARED).count() == len(expected["taskIds"]) + 1


def test_session_events_timeline_and_task_dependencies_are_kept(tenant, legacy_copy: Path):
    # given
    session = {
        "id": "sess_1706789190000_ppppppppp", "projectId": DOCS, "status": "stopped", "name": "Full",
        "agentId": "agent-7", "startedAt": 1706789190000, "lastActivity": 1706789190500,
        "completedAt": 1706789190600, "hostname": "h", "platform": "darwin", "env": {"A": "1"},
        "metadata": {"role": "worker", "skills": ["maestro-worker"]},
        "taskIds": ["task_1706789135787_0ce9uvw53"],
        "events": [{"id": "evt_1706789190100_qqqqqqqqq", "type": "output", "data": {"line": 1},
                    "timestamp": 1706789190100}],
        "timeline": [{"id": "evt_1706789190200_rrrrrrrrr", "type": "task_completed", "message": "done",
                      "timestamp": 1706789190200, "taskId": "task_1706789135787_0ce9uvw53",
                      "metadata": {"k": "v"}}],
    }
    write_json(legacy_copy / "sessions" / f"{session['id']}.json", session)
    task = files(legacy_copy, "task")["task_1706789137341_a5lqsaj08"]
    write_json(legacy_copy / "tasks" / DOCS / "task_1706789137341_a5lqsaj08.json", {
        **task, "dependencies": ["task_1706789134233_9lgmxg9ed"],
        "timeline": [*task["timeline"], {"id": "evt_1706789137400_sssssssss", "type": "session_started",
                                         "timestamp": 1706789137400, "message": "m",
                                         "sessionId": "sess_1706789190000_ppppppppp"}]})

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then
    assert result.error is None, result.err
    data = dump(tenant)
    assert data["sessions"][session["id"]] == {**session, "taskIds": ["task_1706789135787_0ce9uvw53"], "version": 1}
    imported = data["tasks"]["task_1706789137341_a5lqsaj08"]
    assert imported["dependencies"] == ["task_1706789134233_9lgmxg9ed"]
    assert imported["timeline"][1] == {"id": "evt_1706789137400_sssssssss", "type": "session_started",
                                       "timestamp": 1706789137400, "message": "m",
                                       "sessionId": "sess_1706789190000_ppppppppp"}
    assert data["tasks"]["task_1706789135787_0ce9uvw53"]["sessionIds"] == [session["id"]]


def test_a_new_session_naming_an_imported_task_updates_that_task_once(tenant, legacy_copy: Path):
    # given
    run("maestro_import", "--data-dir", str(legacy_copy))
    path = write_json(legacy_copy / "sessions" / "sess_1706789190000_ppppppppp.json", {
        "id": "sess_1706789190000_ppppppppp", "projectId": DOCS, "status": "running", "startedAt": 1706789190000,
        "taskIds": ["task_1706789135787_0ce9uvw53"]})
    audits, events = AuditEvent.objects.count(), Event.objects.count()

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then: the session is created, the task gains it (one task:updated), nothing else moves
    assert result.error is None, result.err
    new = list(AuditEvent.objects.order_by("id")[audits:].values_list("action", "resource", "details"))
    task_file = legacy_copy / "tasks" / DOCS / "task_1706789135787_0ce9uvw53.json"
    assert new == [
        ("task.import", "task_1706789135787_0ce9uvw53",
         f"Re-imported task task_1706789135787_0ce9uvw53 from {task_file}: sessionIds"),
        ("session.import", "sess_1706789190000_ppppppppp",
         f"Imported session sess_1706789190000_ppppppppp from {path}"),
    ]
    assert list(Event.objects.order_by("seq")[events:].values_list("type", flat=True)) == [
        "audit:created", "task:updated", "audit:created", "session:created"]
    assert dump(tenant)["tasks"]["task_1706789135787_0ce9uvw53"]["sessionIds"] == ["sess_1706789190000_ppppppppp"]
    assert "  tasks: 0 created, 1 updated, 11 unchanged, 0 skipped" in result.out
