"""Events reach every browser whichever process caused them: two bin/web replicas and a
bin/worker on one Redis. A browser on web A sees a change made through web B's API, one made
in web B's admin, and one made by a workflow step the worker ran."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth import get_user_model

from maestro.core.actors import Actor
from maestro.core.roles import Role
from maestro.tenancy.models import Membership
from maestro.tenancy.services import default_tenant
from orchestration.control.models.agents import AgentProfile
from orchestration.control.services.agents import agent_create
from orchestration.engine.services import workflow_create
from orchestration.runs.models import Run
from tests.e2e.conftest import sign_in_as_operator
from tests.e2e.test_dashboard_live import WAIT, sign_in
from tests.factories import make_token

pytestmark = pytest.mark.postgres


def weight_shown(page, weight: int) -> None:
    page.wait_for_selector(f'#agent-coder-1 meter[value="{weight}"]', timeout=WAIT)


def test_changes_from_another_replica_its_admin_and_a_worker_reach_the_browser(
        live_server_factory, browser_page, worker_processes):
    tenant = default_tenant()
    olga = get_user_model().objects.create_user("olga", "", "olga-pass-9")
    Membership.objects.create(user=olga, tenant=tenant, role=Role.OPERATOR)
    agent_create(tenant=tenant, actor=Actor.system("test"), agent_id="coder-1", name="Coder one")
    workflow_create(tenant=tenant, actor=Actor.system("test"), name="drain", spec_json={"steps": [
        {"id": "drain", "action": "maestro.set_agent", "params": {"agentId": "coder-1", "routingWeight": 10}}]})
    token = make_token(username="api-client", tenant=tenant, role=Role.OPERATOR)
    web_a, web_b = live_server_factory().url, live_server_factory().url
    worker_processes()
    watcher = browser_page
    sign_in(watcher, web_a)

    # when: a client changes the agent through web B's API
    api = {"Authorization": f"Bearer {token}"}
    answer = requests.patch(f"{web_b}/api/maestro/agents/coder-1", json={"routingWeight": 60}, headers=api, timeout=10)
    assert answer.status_code == 200, answer.text
    # then: the browser on web A shows it
    weight_shown(watcher, 60)

    # when: an operator edits it in web B's admin
    editor = watcher.context.browser.new_context().new_page()
    sign_in_as_operator(editor, web_b)
    agent = AgentProfile.objects.get(slug="coder-1")
    editor.goto(f"{web_b}/admin/orchestration/agentprofile/{agent.pk}/change/")
    editor.fill("#id_routing_weight", "30")
    editor.click("input[name=_save]")
    editor.wait_for_url(f"{web_b}/admin/orchestration/agentprofile/")
    # then: the browser on web A shows that too
    weight_shown(watcher, 30)

    # when: a run whose step drains the agent is started through web B and a worker runs it
    answer = requests.post(f"{web_b}/api/maestro/runs", json={"workflow": "drain"},
                           headers={**api, "Idempotency-Key": "drain-1"}, timeout=10)
    assert answer.status_code == 201, answer.text
    # then: the change the worker made reaches the browser on web A, and so does the run's end
    weight_shown(watcher, 10)
    run_id = answer.json()["id"]
    watcher.wait_for_selector(f"#run-{run_id} .pill.succeeded", timeout=WAIT)
    assert Run.objects.get(id=run_id).status == "succeeded"
    assert watcher.evaluate("window.__sameDocument") is True
