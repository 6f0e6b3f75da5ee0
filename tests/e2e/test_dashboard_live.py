"""The dashboard, live, in real Chromium against bin/web: a pause in one browser reaches
another without a reload; a change made through the API from outside appears in both; a web
restart is bridged by resuming after the last seq, so changes made meanwhile are not lost."""

from __future__ import annotations

import os
from pathlib import Path

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
from tests.factories import make_token

pytestmark = pytest.mark.postgres
SHOTS = Path(os.environ.get("MAESTRO_SCREENSHOT_DIR", "var/screenshots"))
WAIT = 15_000  # ms


def sign_in(page, live: str) -> None:
    page.goto(f"{live}/")
    page.wait_for_url(f"{live}/login?next=%2F")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "olga-pass-9")
    page.click("#password-login button[type=submit]")
    page.wait_for_url(f"{live}/")
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

    # when: the operator pauses the loop in the first browser
    first.click('[data-loop-toggle="rel"]')
    # then: both pages show it paused, without a reload
    loop_status_is(first, "rel", "paused")
    loop_status_is(second, "rel", "paused")
    assert second.evaluate("window.__sameDocument") is True
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
