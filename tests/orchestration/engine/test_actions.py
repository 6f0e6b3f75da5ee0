"""The built-in step actions and the plugins of the ``maestro.actions`` entry-point group."""

from __future__ import annotations

import http.server
import threading
from importlib.metadata import EntryPoint

import pytest

from maestro.core.actors import Actor
from orchestration.base.actions import REGISTRY, ActionFailed, StepContext
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db


def ctx(tenant, **params):
    return StepContext(tenant=tenant, actor=Actor.job("engine"), run_id="run-1", step_id="s1", params=params,
                       input={}, attempt=1, execution=1)


def echo(context: StepContext):
    """A plugin action (registered through the entry point below)."""
    return {"echo": context.params}


@pytest.fixture
def local_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — the stdlib's name
            code = 500 if self.path == "/boom" else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_request_calls_allowed_hosts_only(tenant, settings, local_server):
    http_request = REGISTRY.get("http.request")
    settings.MAESTRO_HTTP_ACTION_ALLOWED_HOSTS = []
    with pytest.raises(ActionFailed) as refused:
        http_request(ctx(tenant, url=f"{local_server}/ok"))

    settings.MAESTRO_HTTP_ACTION_ALLOWED_HOSTS = ["127.0.0.1"]
    ok = http_request(ctx(tenant, url=f"{local_server}/ok"))
    with pytest.raises(ActionFailed) as failed:
        http_request(ctx(tenant, url=f"{local_server}/boom"))

    assert str(refused.value) == ("http.request: host 127.0.0.1 is not allowed (MAESTRO_HTTP_ACTION_ALLOWED_HOSTS)")
    assert ok == {"status": 200, "body": "hello"}
    assert str(failed.value) == f"http.request: GET {local_server}/boom answered 500"


def test_maestro_actions_go_through_the_services(seeded, project):
    from orchestration.control.models.agents import AgentProfile
    from orchestration.control.models.loops import AutonomicLoop
    from orchestration.work.models import Task

    mark = Mark(seeded)

    made = REGISTRY.get("maestro.create_task")(ctx(seeded, projectId=project.id, title="From a step"))
    REGISTRY.get("maestro.set_loop_status")(ctx(seeded, loopId="cost-optimization", status="paused"))
    REGISTRY.get("maestro.set_agent")(ctx(seeded, agentId="coder", routingWeight=10))
    first = REGISTRY.get("maestro.ledger_append")(ctx(seeded, actionType="deploy", payload={"v": 1}))
    again = REGISTRY.get("maestro.ledger_append")(ctx(seeded, actionType="deploy", payload={"v": 1}))

    assert Task.objects.get(id=made["taskId"]).title == "From a step"
    assert AutonomicLoop.objects.get(slug="cost-optimization").status == "paused"
    assert AgentProfile.objects.get(slug="coder").routing_weight == 10
    assert first == again  # one ledger entry per step, however often it runs
    assert [(a.action, a.actor, a.actor_type) for a in mark.audits()] == [
        ("task.create", "engine", "job"), ("loop.set_status", "engine", "job"), ("agent.update", "engine", "job")]
    assert len(mark.intakes()) == 4


def test_fail_fails_its_first_n_executions_and_always_without_times(tenant):
    fail = REGISTRY.get("fail")
    base = ctx(tenant, times=2)

    outcomes = []
    for execution in (1, 2, 3):
        try:
            outcomes.append(fail(StepContext(**{**base.__dict__, "execution": execution})))
        except ActionFailed as exc:
            outcomes.append(str(exc))
    with pytest.raises(ActionFailed):
        fail(StepContext(**{**ctx(tenant).__dict__, "execution": 99}))

    assert outcomes == ["fail: execution 1 of 2", "fail: execution 2 of 2", {"execution": 3}]


def test_plugins_of_the_entry_point_group_are_registered(monkeypatch, tenant):
    from orchestration.engine import actions

    plugin = EntryPoint(name="custom.echo", value=f"{__name__}:echo", group="maestro.actions")
    broken = EntryPoint(name="custom.broken", value="no.such.module:fn", group="maestro.actions")
    monkeypatch.setattr(actions, "entry_points", lambda group: [plugin, broken] if group == "maestro.actions" else [])
    monkeypatch.setattr(REGISTRY, "_actions", dict(REGISTRY._actions))  # restored afterwards

    loaded = actions.load.__wrapped__()

    assert loaded == ["custom.echo"]
    assert REGISTRY.get("custom.echo")(ctx(tenant, x=1)) == {"echo": {"x": 1}}
    assert not REGISTRY.known("custom.broken")
