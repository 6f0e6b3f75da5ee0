"""The admin in a real browser at 1280 px: the index with the tenant's health, every list page
without a horizontal scroll bar, and a ledger entry verified. Screenshots go to var/screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.models import LedgerEntry
from ledger.sequencer import sequence_tenant
from maestro.tenancy.services import default_tenant
from orchestration.control.services.seed import seed_defaults
from orchestration.work.services.sessions import session_create
from orchestration.work.services.tasks import subtask_create
from tests.e2e.conftest import sign_in_as_operator
from tests.factories import SYSTEM, make_project, make_run, make_task

pytestmark = pytest.mark.postgres
SHOTS = Path(os.environ.get("MAESTRO_SCREENSHOT_DIR", "var/screenshots"))
LISTS = ["orchestration/project", "orchestration/task", "orchestration/session", "orchestration/autonomicloop",
         "orchestration/agentprofile", "orchestration/experiment", "orchestration/playbook",
         "orchestration/mergetrain", "orchestration/run", "write_path/auditevent", "ledger/ledgerentry",
         "ledger/checkpoint", "tenancy/tenant", "tenancy/apitoken"]


def test_the_admin_fits_1280_px_and_verifies_a_ledger_entry(live_asgi, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    # given: a tenant with control state, work and a few failed runs
    tenant = default_tenant()
    seed_defaults(tenant=tenant, actor=SYSTEM)
    project = make_project(tenant, "Payments platform")
    task = make_task(tenant, project, "Migrate the settlement batch job to the new queue " * 4)
    subtask_create(tenant=tenant, actor=SYSTEM, task_id=task.id, title="Dry run", completed=True)
    session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[task.id], name="Settlement migration",
                   agent_id="coder-7f3a9c2e-long-agent-identifier")
    for _ in range(7):
        make_run(tenant, status="failed")
    sequence_tenant(tenant_id=tenant.pk)
    sign_in_as_operator(page, live_asgi)
    SHOTS.mkdir(parents=True, exist_ok=True)

    # when / then: the index shows the health first
    page.goto(f"{live_asgi}/admin/")
    assert int(page.inner_text("#maestro-overall-score")) <= 80  # (workers may not answer this server)
    assert page.inner_text('[data-workstream="MC-Core"] td:nth-child(2)') == "degraded"
    assert "High failure rate in last hour: 7 failed runs" in page.inner_text("#maestro-alerts")
    page.screenshot(path=str(SHOTS / "admin-index.png"), full_page=True)

    # and: no list page is wider than the window, nor its table wider than the space it has
    too_wide = []
    for model in LISTS:
        page.goto(f"{live_asgi}/admin/{model}/")
        width = page.evaluate("document.documentElement.scrollWidth")
        table, room = page.evaluate("[document.querySelector('#result_list')?.offsetWidth ?? 0, "
                                    "document.querySelector('#changelist .results')?.clientWidth ?? 0]")
        if width > 1280 or table > room:
            too_wide.append(f"{model}: page {width} px, table {table} px in {room} px")
            page.screenshot(path=str(SHOTS / f"too-wide-{model.replace('/', '-')}.png"), full_page=True)
    assert too_wide == []
    page.goto(f"{live_asgi}/admin/orchestration/task/")
    page.screenshot(path=str(SHOTS / "admin-tasks.png"), full_page=True)

    # and: a ledger entry verifies, each check shown
    entry = LedgerEntry.objects.filter(tenant=tenant, resource_type="task", resource_id=task.id).first()
    page.goto(f"{live_asgi}/admin/ledger/ledgerentry/{entry.pk}/change/")
    page.click("#maestro-verify")
    page.wait_for_selector("#maestro-verdict")
    assert page.inner_text("#maestro-verdict") == "passed"
    assert page.locator("#maestro-checks li.pass").count() == 4
    page.screenshot(path=str(SHOTS / "admin-ledger-entry.png"), full_page=True)

    # and: on a phone-width screen the same pages are read without a page-wide sideways scroll
    # (Django's responsive admin; wide tables scroll inside their own box)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "admin-ledger-entry-phone.png"), full_page=True)
    for path, shot in (("/admin/", "admin-index-phone.png"), ("/admin/orchestration/task/", "admin-tasks-phone.png")):
        page.goto(f"{live_asgi}{path}")
        page.screenshot(path=str(SHOTS / shot), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1, path
