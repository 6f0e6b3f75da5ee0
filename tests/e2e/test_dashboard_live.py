"""The operators' pages, live, in real Chromium against bin/web: a pause in one browser reaches
another without a reload; a change made through the API from outside appears in both; a web
restart is bridged by resuming after the last seq, so changes made meanwhile are not lost; the
project board shows tasks created from outside and edited in place."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.contrib.auth import get_user_model

from maestro.core.actors import Actor
from maestro.core.roles import Role
from maestro.tenancy.models import Membership
from maestro.tenancy.services import default_tenant
from maestro.write_path.models import AuditEvent
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.services.agents import agent_create
from orchestration.control.services.loops import loop_create
from orchestration.work.services.sessions import session_create
from orchestration.work.services.tasks import subtask_create
from tests.factories import make_project, make_task, make_token

pytestmark = pytest.mark.postgres
SHOTS = Path(os.environ.get("MAESTRO_SCREENSHOT_DIR", "var/screenshots"))
WAIT = 15_000  # ms


def sign_in(page, live: str, path: str = "/") -> None:
    page.goto(f"{live}{path}")
    page.wait_for_url(f"{live}/login?next={quote(path, safe='')}")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "olga-pass-9")
    page.click("#password-login button[type=submit]")
    page.wait_for_url(f"{live}{path}")
    page.wait_for_selector("#connection.live", timeout=WAIT)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads


def loop_status_is(page, loop_id: str, status: str) -> None:
    page.wait_for_selector(f"#loop-{loop_id} .pill.{status}", timeout=WAIT)


def test_the_dashboard_is_live_in_two_browsers_and_resumes_after_a_restart(live_server_factory, browser_page):
    tenant = default_tenant()
    olga = get_user_model().objects.create_user("olga", "", "olga-pass-9")
    Membership.objects.create(user=olga, tenant=tenant, role=Role.OPERATOR)
    system = Actor.system("test")
    loop_create(tenant=tenant, actor=system, loop_id="rel", name="Reliability guard", type="reliability")
    agent_create(tenant=tenant, actor=system, agent_id="coder-1", name="Coder one")
    token = make_token(username="api-client", tenant=tenant, role=Role.OPERATOR)
    server = live_server_factory()
    live = server.url

    first = browser_page
    second = first.context.browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(first, live)
    sign_in(second, live)
    loop_status_is(second, "rel", "active")

    # when: the operator pauses the loop in the first browser, from the keyboard
    where = "e => { const r = e.getBoundingClientRect(); return [r.top, r.height]; }"
    before = second.eval_on_selector("#agents", where)
    first.focus('[data-loop-toggle="rel"]')
    first.keyboard.press("Enter")
    # then: both pages show it paused, without a reload, and nothing below it moved
    loop_status_is(first, "rel", "paused")
    loop_status_is(second, "rel", "paused")
    assert second.evaluate("window.__sameDocument") is True
    assert second.eval_on_selector("#agents", where) == before
    # and: the keyboard focus stays on the (redrawn) control in the first browser
    assert first.evaluate("document.activeElement.dataset.loopToggle") == "rel"
    assert AutonomicLoop.objects.get(slug="rel").status == "paused"
    assert AuditEvent.objects.filter(action="loop.set_status", actor="olga").count() == 1

    # when: another client drains an agent through the API
    answer = requests.patch(f"{live}/api/maestro/agents/coder-1", json={"routingWeight": 40},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    # then: both pages show its new weight
    for page in (first, second):
        page.wait_for_selector('#agent-coder-1 meter[value="40"]', timeout=WAIT)
    SHOTS.mkdir(parents=True, exist_ok=True)
    second.screenshot(path=str(SHOTS / "dashboard-live-1280.png"), full_page=True)

    # when: the web process restarts, and changes are made while it is down
    def while_down() -> None:
        agent_create(tenant=tenant, actor=system, agent_id="coder-2", name="Coder two")
        loop_create(tenant=tenant, actor=system, loop_id="cost", name="Cost keeper", type="cost")

    seen_before = second.evaluate("window.maestro.stream.lastSeq")
    server.restart(between=while_down)

    # then: each page reconnects, resumes after the last seq it saw and shows those changes
    for page in (first, second):
        page.wait_for_selector("#agent-coder-2", timeout=WAIT)
        page.wait_for_selector("#loop-cost", timeout=WAIT)
        page.wait_for_selector("#connection.live", timeout=WAIT)
        assert page.evaluate("window.__sameDocument") is True
    stream = second.evaluate("window.maestro.stream")
    assert stream["connects"] >= 2 and stream["resyncs"] == 0 and stream["lastSeq"] > seen_before


def test_the_board_shows_tasks_created_from_outside_and_edited_in_place_in_another_browser(
        live_server_factory, browser_page):
    tenant = default_tenant()
    olga = get_user_model().objects.create_user("olga", "", "olga-pass-9")
    Membership.objects.create(user=olga, tenant=tenant, role=Role.OPERATOR)
    project = make_project(tenant, "Payments")
    elsewhere = make_project(tenant, "Elsewhere")
    task = make_task(tenant, project, "Ship checkout")
    subtask_create(tenant=tenant, actor=Actor.system("test"), task_id=task.id, title="draft the plan")
    session = session_create(tenant=tenant, actor=Actor.system("test"), project=project, task_ids=[task.id],
                             name="Claude on checkout")
    token = make_token(username="api-client", tenant=tenant, role=Role.OPERATOR)
    live = live_server_factory().url
    board = f"/projects/{project.id}"

    first = browser_page
    second = first.context.browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(first, live, board)
    sign_in(second, live, board)

    # when: a client outside the browsers creates a task in this project, and one in another
    api = {"Authorization": f"Bearer {token}"}
    for project_id, title in ((elsewhere.id, "Not on this board"), (project.id, "From the API")):
        answer = requests.post(f"{live}/api/tasks", json={"projectId": project_id, "title": title}, headers=api,
                               timeout=10)
        assert answer.status_code == 201, answer.text
    created = answer.json()["id"]
    # then: both boards show it as pending, and not the other project's
    for page in (first, second):
        page.wait_for_selector(f"#column-pending #task-{created}", timeout=WAIT)
        assert "Not on this board" not in page.inner_text("#board")

    # when: the operator adds a task from the page, and moves the API's task to in progress
    first.fill("#new-task-title", "From the page")
    first.click("#new-task button[type=submit]")
    second.wait_for_selector('#column-pending .task .title:text-is("From the page")', timeout=WAIT)
    first.select_option(f'[data-task-status="{created}"]', "in_progress")
    # then: the second browser sees the task move, without a reload
    second.wait_for_selector(f"#column-in_progress #task-{created}", timeout=WAIT)
    assert second.evaluate("window.__sameDocument") is True
    assert requests.get(f"{live}/api/tasks/{created}", headers=api, timeout=10).json()["status"] == "in_progress"

    SHOTS.mkdir(parents=True, exist_ok=True)
    second.screenshot(path=str(SHOTS / "board-1280.png"), full_page=True)
    second.set_viewport_size({"width": 390, "height": 844})
    second.screenshot(path=str(SHOTS / "board-phone.png"), full_page=True)
    second.goto(f"{live}/sessions/{session.id}")
    second.wait_for_selector(f"#session-task-{task.id}")
    second.screenshot(path=str(SHOTS / "session-phone.png"), full_page=True)
    second.set_viewport_size({"width": 1280, "height": 800})
    second.screenshot(path=str(SHOTS / "session-1280.png"), full_page=True)
