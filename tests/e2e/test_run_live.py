"""A run, watched live in real Chromium: started from the dashboard, its steps turn green on
the run page without a reload; a step that exhausts its retries becomes a dead letter, and
replaying it from the page finishes the run. bin/web runs the embedded default here (steps
execute in the web process), so no worker is needed to watch the engine work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from maestro.core.actors import Actor
from maestro.core.roles import Role
from maestro.tenancy.models import Membership
from maestro.tenancy.services import default_tenant
from orchestration.engine.models import DeadLetter
from orchestration.engine.services import workflow_create
from orchestration.runs.models import Run
from tests.e2e.test_dashboard_live import WAIT, sign_in

pytestmark = pytest.mark.postgres
SHOTS = Path(os.environ.get("MAESTRO_SCREENSHOT_DIR", "var/screenshots"))
SPEC = {"steps": [
    {"id": "build", "action": "sleep", "params": {"seconds": 0.3}},
    {"id": "unit-tests", "action": "sleep", "params": {"seconds": 0.3}, "dependsOn": ["build"]},
    {"id": "lint", "action": "noop", "dependsOn": ["build"]},
    {"id": "flaky-check", "action": "fail", "params": {"times": 1}, "dependsOn": ["build"]},
    {"id": "deploy", "action": "noop", "dependsOn": ["unit-tests", "lint", "flaky-check"]},
]}


def test_start_a_run_watch_its_steps_turn_green_and_replay_a_dead_letter(live_server_factory, browser_page):
    tenant = default_tenant()
    olga = get_user_model().objects.create_user("olga", "", "olga-pass-9")
    Membership.objects.create(user=olga, tenant=tenant, role=Role.OPERATOR)
    workflow_create(tenant=tenant, actor=Actor.system("test"), name="release", spec_json=SPEC)
    live = live_server_factory(MAESTRO_REDIS_URL="").url  # the embedded default: jobs in-process
    page = browser_page
    sign_in(page, live)

    # when: the operator starts a run of "release" from the dashboard
    page.select_option("#start-run-workflow", "release")
    page.click("#start-run button[type=submit]")

    # then: the run page opens and shows its steps finishing, live
    page.wait_for_url(f"{live}/runs/**")
    page.wait_for_selector("#connection.live", timeout=WAIT)
    page.evaluate("window.__sameDocument = true")
    for step in ("build", "unit-tests", "lint"):
        page.wait_for_selector(f"#step-{step}.succeeded", timeout=WAIT)
    # the flaky check fails once with one attempt allowed: a dead letter, and the run fails
    page.wait_for_selector("#step-flaky-check.dead", timeout=WAIT)
    page.wait_for_selector("#run-status.failed", timeout=WAIT)
    page.wait_for_selector("#step-deploy.skipped", timeout=WAIT)
    run = Run.objects.get()
    [letter] = DeadLetter.objects.filter(run_id=run.id)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "run-failed-1280.png"), full_page=True)

    # when: she replays the dead letter from the page
    page.click(f'[data-dlq-replay="{letter.id}"]')

    # then: the step runs again (and passes: `fail` fails only its first execution), the run finishes
    page.wait_for_selector("#step-flaky-check.succeeded", timeout=WAIT)
    page.wait_for_selector("#step-deploy.succeeded", timeout=WAIT)
    page.wait_for_selector("#run-status.succeeded", timeout=WAIT)
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text(f"#dlq-{letter.id} .pill") == "replayed"
    run.refresh_from_db()
    assert run.status == "succeeded"
    page.screenshot(path=str(SHOTS / "run-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "run-phone.png"), full_page=True)
