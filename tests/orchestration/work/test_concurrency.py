"""Two OS processes drive the API of one tenant at the same time (PostgreSQL only).

Both create tasks and sessions in one project, link the same task/session pairs in different
orders, create child tasks under shared parents, edit the shared tasks and the project, and
spawn sessions over overlapping task sets. Afterwards every requested link exists exactly once
and both sides agree, the tenant's event seqs are exactly 1..N, and there is one audit row and
one ledger intake row per accepted mutation.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connection

# Nothing here may import models at module level: the spawned workers import this module
# before their django.setup().

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 2


def _worker(worker: int, env: dict[str, str], db_name: str, token: str, plan: list[tuple[str, str, Any]],
            barrier: Any, results: Any) -> None:
    """One OS process: its own Django, its own connection to the same test database."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    connections["default"].settings_dict["NAME"] = db_name
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get("/api/projects")  # connect and authenticate before the race starts
    outcome = []
    barrier.wait(timeout=60)
    for n, (method, path, body) in enumerate(plan):
        r = getattr(client, method)(path, body, format="json", HTTP_X_REQUEST_ID=f"w{worker}-{n}")
        outcome.append((method, path, r.status_code, r.content.decode()[:300]))
    connections.close_all()
    results.put(outcome)


def _collect(procs: list[Any], results: Any, *, deadline: float) -> list[Any]:
    """The workers' outcomes; fails fast when a worker dies instead of waiting out the deadline."""
    outcomes: list[Any] = []
    while len(outcomes) < len(procs):
        try:
            outcomes.append(results.get(timeout=0.5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                pytest.fail(f"worker processes failed (exit codes {[p.exitcode for p in procs]})")
    for p in procs:
        p.join(timeout=30)
    return outcomes


def _plan(worker: int, project_id: str, tasks: list[str], sessions: list[str]) -> list[tuple[str, str, Any]]:
    """50 mutations; the shared link pairs appear in both workers' plans, in different orders."""
    ops: list[tuple[str, str, Any]] = []
    ops += [("post", "/api/tasks", {"projectId": project_id, "title": f"w{worker}-{i}"}) for i in range(8)]
    ops += [("post", "/api/tasks", {"projectId": project_id, "title": f"w{worker}-child-{i}", "parentId": tasks[i]})
            for i in range(5)]
    overlapping = [tasks[0], tasks[1], tasks[2]]
    ops += [("post", "/api/sessions", {"projectId": project_id,
                                       "taskIds": overlapping if worker == 0 else overlapping[::-1]})
            for _ in range(4)]
    ops += [("post", "/api/sessions/spawn", {"projectId": project_id,
                                             "taskIds": [tasks[3], tasks[4]] if worker == 0 else [tasks[4], tasks[3]]})
            for _ in range(2)]
    ops += [("post", f"/api/sessions/{s}/tasks/{t}", None) for s in sessions for t in tasks]
    ops += [("patch", f"/api/tasks/{t}", {"status": "in_progress", "timeline": [{"message": f"w{worker}"}]})
            for t in tasks[:3]]
    ops += [("post", f"/api/tasks/{t}/timeline", {"message": f"w{worker}"}) for t in tasks[3:]]
    ops += [("post", f"/api/sessions/{s}/events", {"type": f"w{worker}"}) for s in sessions]
    ops += [("patch", f"/api/projects/{project_id}", {"description": f"w{worker}-{i}"}) for i in range(2)]
    random.Random(worker).shuffle(ops)
    return ops


def test_two_processes_writing_one_tenant(tenant):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes every writer")
    from django.conf import settings

    from ledger.models import IntakeEntry
    from maestro.write_path.models import AuditEvent
    from orchestration.work.models import Session, SessionTask, TaskTimelineEvent
    from orchestration.work.services.sessions import session_create
    from realtime.models import Event, EventStream
    from tests.factories import SYSTEM, make_project, make_task, make_token

    # given
    project = make_project(tenant)
    tasks = [make_task(tenant, project, f"shared-{i}").id for i in range(5)]
    sessions = [session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[]).id for _ in range(4)]
    token = make_token(username="olivia", tenant=tenant, role="operator")
    plans = [_plan(w, project.id, tasks, sessions) for w in range(WORKERS)]
    assert [len(p) for p in plans] == [50, 50]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    env = {k: v for k, v in os.environ.items() if k.startswith(("MAESTRO_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "maestro.settings")
    db_name = connection.settings_dict["NAME"]
    assert db_name == settings.DATABASES["default"]["NAME"] and db_name.startswith("test_")
    procs = [ctx.Process(target=_worker, args=(w, env, db_name, token, plans[w], barrier, results)) for w in range(2)]

    # when
    for p in procs:
        p.start()
    outcomes = _collect(procs, results, deadline=time.monotonic() + 120)

    # then: every request was accepted
    assert [p.exitcode for p in procs] == [0, 0]
    failures = [o for outcome in outcomes for o in outcome if o[2] not in (200, 201)]
    assert failures == []
    accepted = sum(len(o) for o in outcomes)
    assert accepted == 100
    # the two workers really ran side by side: their commits interleave
    order = [rid[:2] for rid in AuditEvent.objects.filter(actor="olivia").order_by("id")
             .values_list("request_id", flat=True)]
    assert Counter(order) == {"w0": 50, "w1": 50}
    assert sum(a != b for a, b in zip(order, order[1:], strict=False)) >= 5

    # every requested link exists exactly once, and both sides of the API agree
    created = [s.id for s in Session.objects.filter(project=project).exclude(id__in=sessions)]
    assert len(created) == 2 * (4 + 2)
    pairs = Counter(SessionTask.objects.values_list("session__id", "task_id"))
    assert set(pairs.values()) == {1}
    expected = {(s, t) for s in sessions for t in tasks}
    spawned = set(Session.objects.filter(id__in=created, status="spawning").values_list("id", flat=True))
    expected |= {(s, t) for s in created for t in ((tasks[3], tasks[4]) if s in spawned else tasks[:3])}
    assert set(pairs) == expected
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    task_rows = client.get(f"/api/tasks?projectId={project.id}&limit=5000").json()
    session_rows = client.get(f"/api/sessions?projectId={project.id}&limit=5000").json()
    assert len(task_rows) == 5 + 2 * 13 and len(session_rows) == 4 + 12
    by_task = {(s, t["id"]) for t in task_rows for s in t["sessionIds"]}
    by_session = {(s["id"], t) for s in session_rows for t in s["taskIds"]}
    assert by_task == by_session == expected
    assert all(len(t["sessionIds"]) == len(set(t["sessionIds"])) for t in task_rows)
    assert all(len(s["taskIds"]) == len(set(s["taskIds"])) for s in session_rows)
    started = Counter(TaskTimelineEvent.objects.filter(type="session_started").values_list("session_id", "task_id"))
    assert started == Counter(dict.fromkeys(expected, 1))
    assert {t["title"] for t in task_rows if t["parentId"]} == {f"w{w}-child-{i}" for w in range(2) for i in range(5)}

    # event seqs are exactly 1..N; one audit row and one intake row per accepted mutation
    seqs = sorted(Event.objects.filter(tenant=tenant).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert EventStream.objects.get(tenant=tenant).last_seq == len(seqs)
    assert AuditEvent.objects.filter(tenant=tenant, actor="olivia", status="allowed").count() == accepted
    assert AuditEvent.objects.filter(tenant=tenant, actor="olivia").exclude(status="allowed").count() == 0
    assert IntakeEntry.objects.filter(tenant=tenant, actor_id="olivia").count() == accepted
    assert Event.objects.filter(tenant=tenant, type="audit:created").count() == AuditEvent.objects.filter(
        tenant=tenant).count()


def _race_plans(projects: list[str], home: str, sessions: list[str], tasks: list[str],
                parents: list[str]) -> list[list[tuple[str, str, Any]]]:
    creator: list[tuple[str, str, Any]] = []
    deleter: list[tuple[str, str, Any]] = []
    for i in range(len(projects)):
        creator += [("post", "/api/tasks", {"projectId": projects[i], "title": f"in-{i}"}),
                    ("post", f"/api/sessions/{sessions[i]}/tasks/{tasks[i]}", None),
                    ("post", "/api/tasks", {"projectId": home, "title": f"child-{i}", "parentId": parents[i]})]
        deleter += [("delete", f"/api/projects/{projects[i]}", None), ("delete", f"/api/tasks/{tasks[i]}", None),
                    ("delete", f"/api/tasks/{parents[i]}", None)]
    return [creator, deleter]


def test_deletes_racing_creates_and_links_never_fail_or_leave_dangling_rows(tenant):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes every writer")
    from maestro.write_path.models import AuditEvent
    from orchestration.work.models import Project, SessionTask, Task
    from orchestration.work.services.sessions import session_create
    from realtime.models import Event
    from tests.factories import SYSTEM, make_project, make_task, make_token

    # given
    n = 10
    home = make_project(tenant, "home")
    projects = [make_project(tenant, f"doomed-{i}").id for i in range(n)]
    tasks = [make_task(tenant, home, f"linked-{i}").id for i in range(n)]
    parents = [make_task(tenant, home, f"parent-{i}").id for i in range(n)]
    sessions = [session_create(tenant=tenant, actor=SYSTEM, project=home, task_ids=[]).id for _ in range(n)]
    token = make_token(username="olivia", tenant=tenant, role="operator")
    plans = _race_plans(projects, home.id, sessions, tasks, parents)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    env = {k: v for k, v in os.environ.items() if k.startswith(("MAESTRO_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "maestro.settings")
    procs = [ctx.Process(target=_worker, args=(w, env, connection.settings_dict["NAME"], token, plans[w], barrier,
                                               results)) for w in range(WORKERS)]

    # when
    for p in procs:
        p.start()
    outcomes = {o[0][0]: o for o in _collect(procs, results, deadline=time.monotonic() + 120)}
    creator, deleter = outcomes["post"], outcomes["delete"]

    # then: every answer is a clean success or a clean refusal, never a 500
    for i in range(n):
        task_in_project, link, child = (creator[3 * i + k][2:] for k in range(3))
        drop_project, drop_task, drop_parent = (deleter[3 * i + k][2:] for k in range(3))
        assert (task_in_project[0], drop_project[0]) in {(201, 400), (404, 200)}, (task_in_project, drop_project)
        if drop_project[0] == 400:
            assert '"PROJECT_HAS_DEPENDENCIES"' in drop_project[1]
            assert Task.objects.filter(project_id=projects[i]).count() == 1
        else:
            assert '"PROJECT_NOT_FOUND"' in task_in_project[1]
            assert not Project.objects.filter(id=projects[i]).exists()
        assert drop_task[0] == 200 and link[0] in (200, 404), (link, drop_task)
        assert drop_parent[0] == 200 and child[0] in (201, 400), (child, drop_parent)
        if child[0] == 400:
            assert "parentId does not name a task" in child[1]
    assert not Task.objects.filter(id__in=tasks + parents).exists()
    assert not SessionTask.objects.filter(task_id__in=tasks).exists()
    assert set(Task.objects.filter(title__startswith="child-").values_list("parent_id", flat=True)) <= {None}

    # one audit row per accepted mutation, gapless seqs
    accepted = sum(1 for o in creator + deleter if o[2] in (200, 201))
    assert AuditEvent.objects.filter(tenant=tenant, actor="olivia", status="allowed").count() == accepted
    seqs = sorted(Event.objects.filter(tenant=tenant).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
