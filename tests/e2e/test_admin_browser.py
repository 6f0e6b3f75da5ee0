"""An operator in a real browser: logs into the admin, creates a project and a task there, and
a WebSocket open in another tab of the same browser receives the events live."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project, Task
from tests.e2e.conftest import sign_in_as_operator

pytestmark = pytest.mark.postgres
SHOTS = Path(os.environ.get("MAESTRO_SCREENSHOT_DIR", "var/screenshots"))


def test_admin_edits_reach_a_browser_websocket_live(live_asgi, browser_page):
    page = browser_page
    # given: an operator with an admin login
    sign_in_as_operator(page, live_asgi)
    # and: a WebSocket in a second tab, authenticated by the same session cookie
    listener = page.context.new_page()
    listener.goto(f"{live_asgi}/healthz")
    listener.evaluate("""() => new Promise((resolve) => {
        window.received = [];
        const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
        ws.onmessage = (m) => {
            window.received.push(JSON.parse(m.data));
            if (window.received.length === 1) resolve();
        };
    })""")
    assert listener.evaluate("window.received[0].type") == "connected"

    # when: the operator creates a project and a task through the admin forms
    page.goto(f"{live_asgi}/admin/orchestration/project/add/")
    page.select_option("#id_tenant", label="default")
    page.fill("#id_name", "Browser project")
    page.fill("#id_working_dir", "/srv/browser")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_asgi}/admin/orchestration/project/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-projects.png"), full_page=True)
    project = Project.objects.get(name="Browser project")
    page.goto(f"{live_asgi}/admin/orchestration/task/add/")
    page.select_option("#id_project", value=project.id)
    page.fill("#id_title", "Browser task")
    page.select_option("#id_status", "in_progress")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was added successfully")
    page.screenshot(path=str(SHOTS / "admin-task.png"), full_page=True)

    # then: the rows exist, written through the services
    task = Task.objects.get(title="Browser task")
    assert task.status == "in_progress" and task.started_at is not None
    assert list(AuditEvent.objects.filter(actor="ops").order_by("id").values_list("action", flat=True)) == [
        "project.create", "task.create", "task.update"]
    # and: the browser's WebSocket got the events, in seq order with no gap
    listener.wait_for_function("window.received.filter(e => e.type === 'task:updated').length >= 1",
                               timeout=10_000)
    events = [e for e in listener.evaluate("window.received") if "seq" in e and e["type"] != "connected"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    # (the ledger's checkpoints interleave when the embedded default sequences on commit)
    changes = [e for e in events if e["type"] != "ledger:checkpoint"]
    types = [e["type"] for e in changes]
    assert types[:6] == ["audit:created", "project:created", "audit:created", "task:created", "audit:created",
                         "task:updated"], json.dumps(types)
    assert changes[1]["data"]["name"] == "Browser project" and changes[1]["data"]["workingDir"] == "/srv/browser"
