"""Admin edits go through the services: the same audit row, ledger intake and event as the API."""

import re

from django.contrib.admin.utils import quote

from ledger.models import IntakeEntry
from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project, Session, Subtask, Task
from realtime.models import Event
from tests.factories import SYSTEM, make_project, make_task


def test_admin_create_project_is_audited_ledgered_and_broadcast(staff, tenant):
    # when
    r = staff.post("/admin/orchestration/project/add/",
                   {"tenant": tenant.pk, "name": "From admin", "working_dir": "/srv", "description": "d",
                    "tasks-TOTAL_FORMS": 0, "tasks-INITIAL_FORMS": 0})
    # then
    assert r.status_code == 302, r.content[:2000]
    project = Project.objects.get(name="From admin")
    audit = AuditEvent.objects.get(action="project.create", resource=project.id)
    assert (audit.actor, audit.actor_type, audit.status) == ("root", "user", "allowed")
    assert IntakeEntry.objects.filter(action_type="project.create", resource_id=project.id).count() == 1
    assert list(Event.objects.filter(tenant=tenant).order_by("seq").values_list("type", flat=True))[-2:] == [
        "audit:created", "project:created"]


def test_admin_edit_task_and_subtasks_use_services(staff, tenant):
    # given
    project = make_project(tenant)
    task = make_task(tenant, project, "Original")
    # when: rename the task, mark it in progress, add a subtask inline
    r = staff.post(f"/admin/orchestration/task/{quote(task.id)}/change/", {
        "title": "Renamed", "description": "", "initial_prompt": "", "status": "in_progress", "priority": "high",
        "skill_ids": "[]", "agent_ids": "[]", "dependencies": "[]",
        "subtasks-TOTAL_FORMS": 1, "subtasks-INITIAL_FORMS": 0,
        "subtasks-0-title": "Step one", "subtasks-0-description": "", "subtasks-0-order": 0,
        "timeline-TOTAL_FORMS": 1, "timeline-INITIAL_FORMS": 1, "timeline-0-pk_id": task.timeline.first().pk_id,
        "timeline-0-task": task.id,
    })
    # then
    assert r.status_code == 302, r.content[:3000]
    task.refresh_from_db()
    assert (task.title, task.status, task.priority) == ("Renamed", "in_progress", "high")
    assert task.started_at is not None
    assert list(Subtask.objects.filter(task=task).values_list("title", flat=True)) == ["Step one"]
    actions = list(AuditEvent.objects.filter(actor="root").order_by("id").values_list("action", flat=True))
    assert actions == ["task.update", "subtask.create"]
    types = list(Event.objects.filter(tenant=tenant).order_by("seq").values_list("type", flat=True))
    assert types[-5:] == ["audit:created", "task:updated", "audit:created", "subtask:created", "task:updated"]


def test_admin_delete_project_with_tasks_is_refused(staff, tenant):
    # given
    project = make_project(tenant)
    make_task(tenant, project)
    # when
    r = staff.post(f"/admin/orchestration/project/{quote(project.id)}/delete/", {"post": "yes"}, follow=True)
    # then: the admin names the protected tasks instead of deleting
    assert r.status_code == 200
    assert Project.objects.filter(pk=project.pk).exists()
    assert b"Cannot delete project" in r.content
    assert not AuditEvent.objects.filter(action="project.delete").exists()


def test_admin_session_relink_tasks(staff, tenant):
    # given
    from orchestration.work.services.sessions import session_create

    project = make_project(tenant)
    a, b = make_task(tenant, project, "A"), make_task(tenant, project, "B")
    session = session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[a.id])
    # when: move the session from task A to task B
    r = staff.post(f"/admin/orchestration/session/{session.pk}/change/", {
        "name": session.name, "status": "running", "agent_id": "", "env": "{}", "metadata": "{}",
        "hostname": "", "platform": "", "linked_tasks": [b.id],
    })
    # then
    assert r.status_code == 302, r.content[:3000]
    assert list(Session.objects.get(pk=session.pk).task_links.values_list("task_id", flat=True)) == [b.id]
    assert list(a.timeline.values_list("type", flat=True)) == ["created", "session_started", "session_ended"]
    assert list(Task.objects.get(pk=b.pk).timeline.values_list("type", flat=True)) == ["created", "session_started"]


def test_admin_pages_render(staff, tenant):
    project = make_project(tenant)
    task = make_task(tenant, project)
    for url in ["/admin/", "/admin/orchestration/project/",
                f"/admin/orchestration/project/{quote(project.id)}/change/",
                "/admin/orchestration/task/?status__exact=pending",
                f"/admin/orchestration/task/{quote(task.id)}/change/",
                "/admin/orchestration/session/", "/admin/tenancy/apitoken/", "/admin/orchestration/task/?q=Do"]:
        assert staff.get(url).status_code == 200, url


def test_admin_edits_only_the_session_it_opened_when_two_tenants_share_its_id(staff, tenant, other_tenant):
    # given: both tenants have a session sess_shared
    from orchestration.work.services.sessions import session_create

    mine, theirs = make_project(tenant), make_project(other_tenant, "Theirs")
    session = session_create(tenant=tenant, actor=SYSTEM, project=mine, task_ids=[], session_id="sess_shared",
                             name="mine")
    other = session_create(tenant=other_tenant, actor=SYSTEM, project=theirs, task_ids=[], session_id="sess_shared",
                           name="theirs")
    # when
    page = staff.get(f"/admin/orchestration/session/{other.pk}/change/")
    r = staff.post(f"/admin/orchestration/session/{other.pk}/change/", {
        "name": "renamed", "status": "running", "agent_id": "", "env": "{}", "metadata": "{}",
        "hostname": "", "platform": "", "linked_tasks": [],
    })
    # then
    assert page.status_code == 200 and b"theirs" in page.content
    assert r.status_code == 302, r.content[:3000]
    assert (Session.objects.get(pk=other.pk).name, Session.objects.get(pk=other.pk).version) == ("renamed", 2)
    assert (Session.objects.get(pk=session.pk).name, Session.objects.get(pk=session.pk).version) == ("mine", 1)


def test_task_id_lists_are_edited_one_per_line_or_comma_separated(staff, tenant):
    # given
    from tests.support.writes import Mark

    project = make_project(tenant)
    task = make_task(tenant, project, "Ids", skill_ids=["python"])
    page = staff.get(f"/admin/orchestration/task/{quote(task.id)}/change/").content.decode()
    assert 'id="id_skill_ids">\npython</textarea>' in page  # shown as lines, not as JSON
    mark = Mark(tenant)

    # when
    r = staff.post(f"/admin/orchestration/task/{quote(task.id)}/change/", {
        "title": "Ids", "description": "", "initial_prompt": "", "status": "pending", "priority": "medium",
        "skill_ids": "python\nsql\nrust", "agent_ids": "coder, reviewer", "dependencies": "",
        "subtasks-TOTAL_FORMS": 0, "subtasks-INITIAL_FORMS": 0, "timeline-TOTAL_FORMS": 0,
        "timeline-INITIAL_FORMS": 0})

    # then: saved by the service, as lists
    assert r.status_code == 302, r.content[:3000]
    task.refresh_from_db()
    assert (task.skill_ids, task.agent_ids, task.dependencies) == (["python", "sql", "rust"], ["coder", "reviewer"], [])
    assert [(a.action, a.resource) for a in mark.audits()] == [("task.update", task.id)]


def test_session_env_must_map_names_to_strings_and_says_which_is_not(staff, tenant):
    # given
    from tests.support.writes import Mark

    project = make_project(tenant)
    from orchestration.work.services.sessions import session_create

    session = session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[], env={"HOME": "/root"},
                             metadata={"role": "coder"})
    page = staff.get(f"/admin/orchestration/session/{session.pk}/change/").content.decode()
    assert "\n{\n  &quot;HOME&quot;: &quot;/root&quot;\n}</textarea>" in page  # pretty-printed
    mark = Mark(tenant)

    # when
    r = staff.post(f"/admin/orchestration/session/{session.pk}/change/", {
        "name": session.name, "status": "running", "agent_id": "", "env": '{"HOME": "/root", "DEBUG": 1}',
        "metadata": '["not", "an", "object"]', "hostname": "", "platform": ""})

    # then: a form error per field, naming the path; nothing saved
    assert r.status_code == 200
    errors = r.context["adminform"].form.errors
    assert errors["env"] == ["$.DEBUG: must be a string, not 1"]
    assert errors["metadata"] == ["$: must be a JSON object ({...})."]
    mark.assert_nothing_written()


def test_list_pages_show_the_columns_an_operator_scans_for(staff, tenant):
    # given: a project with two tasks (one with a done subtask) and a session on one of them
    from orchestration.work.services.sessions import session_create
    from orchestration.work.services.tasks import subtask_create
    from tests.support.admin import columns

    project = make_project(tenant)
    task, _ = make_task(tenant, project, "A" * 300), make_task(tenant, project, "B")
    subtask_create(tenant=tenant, actor=SYSTEM, task_id=task.id, title="one", completed=True)
    subtask_create(tenant=tenant, actor=SYSTEM, task_id=task.id, title="two")
    session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[task.id], name="s1")

    # when
    projects = staff.get("/admin/orchestration/project/")
    tasks = staff.get("/admin/orchestration/task/?o=1")
    sessions = staff.get("/admin/orchestration/session/")

    # then
    assert columns(projects) == ["name", "id", "task_count", "session_count", "version", "updated_at", "tenant"]
    assert columns(tasks) == ["short_title", "project_name", "status", "priority", "subtasks", "version",
                              "updated_at", "tenant"]
    assert columns(sessions) == ["short_name", "project_name", "status", "agent_id", "task_count", "version",
                                 "last_activity", "tenant"]
    assert '<td class="field-task_count">2</td><td class="field-session_count">1</td>' in projects.content.decode()
    page = tasks.content.decode()
    assert '<td class="field-subtasks">1/2</td>' in page and '<td class="field-subtasks">—</td>' in page
    assert re.search(r'<th class="field-short_title"><a [^>]*>(A+…)</a>', page).group(1) == "A" * 69 + "…"
    assert '<td class="field-task_count">1</td>' in sessions.content.decode()
    for url in ("/admin/orchestration/project/?q=Payments", "/admin/orchestration/task/?status__exact=pending&q=B",
                "/admin/orchestration/session/?status__exact=running&o=5"):
        assert staff.get(url).status_code == 200, url
