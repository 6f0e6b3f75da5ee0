"""The published OpenAPI document tells the truth: every operation in it is called here, and
each answer's status and body must be what the document declares for it. The response shapes
are derived from the representations' TypedDicts (maestro.api.openapi), so this also checks that
what the server builds at run time is what those types say."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator

from ledger.sequencer import sequence_tenant
from orchestration.control.services.seed import seed_defaults
from orchestration.runs.services import run_create, run_transition
from tests.factories import SYSTEM, make_token

pytestmark = pytest.mark.django_db

# operationId → (path with {placeholders} from the world below, JSON body or None). Calls run in
# this order: creates before the deletes that need them.
CALLS: list[tuple[str, str, Any]] = [
    ("projects_list", "/api/projects", None),
    ("projects_create", "/api/projects", {"name": "Made"}),
    ("projects_get", "/api/projects/{project}", None),
    ("projects_update", "/api/projects/{project}", {"description": "d"}),
    ("projects_replace", "/api/projects/{project}", {"name": "Replaced"}),
    ("tasks_list", "/api/tasks?projectId={project}", None),
    ("tasks_create", "/api/tasks", {"projectId": "{project}", "title": "t"}),
    ("tasks_get", "/api/tasks/{task}", None),
    ("tasks_update", "/api/tasks/{task}", {"status": "in_progress"}),
    ("tasks_replace", "/api/tasks/{task}", {"priority": "high"}),
    ("tasks_children", "/api/tasks/{task}/children", None),
    ("tasks_timeline_add", "/api/tasks/{task}/timeline", {"message": "m", "sessionId": "{session}"}),
    ("subtasks_create", "/api/tasks/{task}/subtasks", {"title": "s"}),
    ("subtasks_update", "/api/tasks/{task}/subtasks/{subtask}", {"completed": True}),
    ("subtasks_replace", "/api/tasks/{task}/subtasks/{subtask}", {"title": "s2"}),
    ("sessions_list", "/api/sessions?active=true", None),
    ("sessions_create", "/api/sessions", {"projectId": "{project}", "taskIds": ["{task}"], "env": {"A": "1"}}),
    ("sessions_get", "/api/sessions/{session}", None),
    ("sessions_update", "/api/sessions/{session}", {"status": "running", "metadata": {"k": 1}}),
    ("sessions_replace", "/api/sessions/{session}", {"name": "renamed"}),
    ("sessions_event_add", "/api/sessions/{session}/events", {"type": "tool", "data": {"x": 1}}),
    ("sessions_timeline_add", "/api/sessions/{session}/timeline", {"message": "m", "taskId": "{task}",
                                                                    "metadata": {"k": "v"}}),
    ("sessions_task_add", "/api/sessions/{session}/tasks/{other_task}", None),
    ("sessions_task_remove", "/api/sessions/{session}/tasks/{other_task}", None),
    ("sessions_spawn", "/api/sessions/spawn", {"projectId": "{project}", "taskIds": ["{task}"]}),
    ("sessions_manifest", "/api/sessions/{session}/manifest", None),
    ("sessions_queue_get", "/api/sessions/{queued}/queue", None),
    ("sessions_queue_items", "/api/sessions/{queued}/queue/items", None),
    ("sessions_queue_top", "/api/sessions/{queued}/queue/top", None),
    ("sessions_queue_push", "/api/sessions/{queued}/queue/push", {"taskId": "{other_task}"}),
    ("sessions_queue_start", "/api/sessions/{queued}/queue/start", {}),
    ("sessions_queue_complete", "/api/sessions/{queued}/queue/complete", {}),
    ("sessions_queue_start", "/api/sessions/{queued}/queue/start", {}),
    ("sessions_queue_fail", "/api/sessions/{queued}/queue/fail", {"reason": "r"}),
    ("sessions_queue_skip", "/api/sessions/{queued}/queue/skip", {}),
    ("events_list", "/api/events?afterSeq=0&limit=50", None),
    ("maestro_dashboard_retrieve", "/api/maestro/dashboard", None),
    ("maestro_health_retrieve", "/api/maestro/health", None),
    ("maestro_slo_retrieve", "/api/maestro/slo", None),
    ("maestro_runs_list", "/api/maestro/runs", None),
    ("maestro_runs_retrieve", "/api/maestro/runs/{run}", None),
    ("maestro_workflows_create", "/api/maestro/workflows", {"name": "wf", "spec": {"steps": [{"id": "a",
                                                                                               "action": "noop"}]}}),
    ("maestro_workflows_list", "/api/maestro/workflows", None),
    ("maestro_workflows_retrieve", "/api/maestro/workflows/wf?version=1", None),
    ("maestro_workflows_schema", "/api/maestro/workflows/schema", None),
    ("maestro_runs_create", "/api/maestro/runs", {"workflow": "wf", "input": {"k": 1}}),
    ("maestro_runs_graph_retrieve", "/api/maestro/runs/{run}/graph", None),
    ("maestro_runs_timeline_retrieve", "/api/maestro/runs/{run}/timeline", None),
    ("maestro_runs_cancel_create", "/api/maestro/runs/{run}/cancel", {}),
    ("maestro_dlq_list", "/api/maestro/dlq", None),
    ("maestro_dlq_replay_create", "/api/maestro/dlq/nope/replay", {}),
    ("maestro_playbooks_run_create", "/api/maestro/playbooks/pb-restart-pods/run", {}),
    ("maestro_agents_list", "/api/maestro/agents", None),
    ("maestro_agents_retrieve", "/api/maestro/agents/coder", None),
    ("maestro_agents_partial_update", "/api/maestro/agents/coder", {"routingWeight": 50}),
    ("maestro_autonomic_loops_list", "/api/maestro/autonomic/loops", None),
    ("maestro_autonomic_loops_retrieve", "/api/maestro/autonomic/loops/cost-optimization", None),
    ("maestro_autonomic_loops_partial_update", "/api/maestro/autonomic/loops/cost-optimization",
     {"config": {"threshold": 0.5, "interval": "15m"}}),
    ("maestro_autonomic_loops_run_create", "/api/maestro/autonomic/loops/cost-optimization/run", {}),
    ("maestro_autonomic_loop_decisions", "/api/maestro/autonomic/loops/cost-optimization/decisions", None),
    ("maestro_autonomic_loops_toggle_create", "/api/maestro/autonomic/loops/cost-optimization/toggle",
     {"status": "paused"}),
    ("maestro_merge_trains_default", "/api/maestro/merge-trains", None),
    ("maestro_merge_trains_retrieve", "/api/maestro/merge-trains/mt-main", None),
    ("maestro_experiments_list", "/api/maestro/experiments", None),
    ("maestro_experiments_create", "/api/maestro/experiments", {"id": "exp-new", "name": "E",
                                                                "variants": ["control", "b"]}),
    ("maestro_experiments_retrieve", "/api/maestro/experiments/exp-new", None),
    ("maestro_experiments_partial_update", "/api/maestro/experiments/exp-new", {"hypothesis": "h"}),
    ("maestro_experiments_run_create", "/api/maestro/experiments/exp-new/run", {}),
    ("maestro_experiments_assignment_retrieve", "/api/maestro/experiments/exp-new/assignment?entityId=u1", None),
    ("maestro_experiments_observations_create", "/api/maestro/experiments/exp-new/observations",
     {"variant": "b", "metrics": {"latency": 12.5}}),
    ("maestro_experiments_results_retrieve", "/api/maestro/experiments/exp-new/results", None),
    ("maestro_experiments_stop_create", "/api/maestro/experiments/exp-new/stop", {}),
    ("maestro_playbooks_list", "/api/maestro/playbooks", None),
    ("maestro_playbooks_create", "/api/maestro/playbooks", {"name": "P", "triggers": ["t"], "actions": ["noop"]}),
    ("maestro_playbooks_retrieve", "/api/maestro/playbooks/pb-restart-pods", None),
    ("maestro_playbooks_partial_update", "/api/maestro/playbooks/pb-restart-pods", {"isEnabled": False}),
    ("maestro_audit_log_retrieve", "/api/maestro/audit/log?limit=20", None),
    ("ledger_entries_append", "/api/ledger/entries", {"actionType": "deploy", "resourceType": "svc",
                                                      "payload": {"v": 1}}),
    ("ledger_entries_append_batch", "/api/ledger/entries/batch", [{"actionType": "deploy", "resourceType": "svc"}]),
    ("ledger_entries_list", "/api/ledger/entries?limit=5&order=desc", None),
    ("ledger_entries_get", "/api/ledger/entries/{entry}", None),
    ("ledger_entries_proof", "/api/ledger/entries/{entry}/proof", None),
    ("ledger_consistency", "/api/ledger/consistency?first=1&second=2", None),
    ("ledger_checkpoints_list", "/api/ledger/checkpoints", None),
    ("ledger_public_key", "/api/ledger/public-key", None),
    ("ledger_verify", "/api/ledger/verify", {}),
    ("ledger_archive", "/api/ledger/archive?force=true", {}),
    ("ledger_segments_list", "/api/ledger/segments", None),
    ("ledger_export", "/api/ledger/export?format=json", None),
    ("subtasks_delete", "/api/tasks/{task}/subtasks/{subtask}", None),
    ("sessions_delete", "/api/sessions/{session}", None),
    ("tasks_delete", "/api/tasks/{other_task}", None),
    ("projects_delete", "/api/projects/{empty_project}", None),
]


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's null type."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _fill(value: Any, world: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


@pytest.fixture
def world(tenant, admin_client) -> dict[str, str]:
    seed_defaults(tenant=tenant, actor=SYSTEM)
    client = admin_client
    project = client.post("/api/projects", {"name": "P"}, format="json").json()["id"]
    empty = client.post("/api/projects", {"name": "Empty"}, format="json").json()["id"]
    task = client.post("/api/tasks", {"projectId": project, "title": "T"}, format="json").json()["id"]
    other = client.post("/api/tasks", {"projectId": project, "title": "U"}, format="json").json()["id"]
    subtask = client.post(f"/api/tasks/{task}/subtasks", {"title": "S"}, format="json").json()["id"]
    session = client.post("/api/sessions", {"projectId": project, "taskIds": [task]}, format="json").json()["id"]
    queued = client.post("/api/sessions/spawn", {"projectId": project, "taskIds": [task], "strategy": "queue"},
                         format="json").json()["sessionId"]
    run, _ = run_create(tenant=tenant, actor=SYSTEM, pipeline="build")
    run_transition(tenant=tenant, actor=SYSTEM, run_id=run.id, to="running")
    sequence_tenant(tenant_id=tenant.pk)
    entry = client.get("/api/ledger/entries?limit=1").json()[0]["id"]
    return {"project": project, "empty_project": empty, "task": task, "other_task": other, "subtask": subtask,
            "session": session, "queued": queued, "run": run.id, "entry": entry}


def test_every_operation_answers_what_the_document_declares(tenant, world, settings, tmp_path):
    # given: the document, and an admin of the tenant (the ledger's admin routes included)
    settings.MAESTRO_ARCHIVE_URL = (tmp_path / "archive").as_uri()
    document = SchemaGenerator().get_schema(request=None, public=True)
    components = _json_schema(document["components"])
    operations = {op["operationId"]: (method, path, op) for path, item in document["paths"].items()
                  for method, op in item.items()}
    client = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(username='ada2', tenant=tenant, role='admin')}")

    # when: each operation is called once
    problems = []
    for op_id, url, body in CALLS:
        method, _, op = operations[op_id]
        kwargs = {} if body is None else {"data": json.dumps(_fill(body, world)), "content_type": "application/json"}
        response = getattr(client, method)(_fill(url, world), **kwargs)
        declared = op["responses"].get(str(response.status_code))
        if declared is None:
            problems.append(f"{op_id}: status {response.status_code} not declared ({response.content[:200]!r})")
            continue
        schema = declared.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            continue
        content = b"".join(response.streaming_content) if response.streaming else response.content
        validator = Draft202012Validator({**_json_schema(copy.deepcopy(schema)), "components": components})
        for error in validator.iter_errors(json.loads(content)):
            problems.append(f"{op_id}: {error.json_path}: {error.message[:200]}")

    # then: every operation of the document was called, and every answer was as declared
    assert sorted(set(operations) - {op for op, _, _ in CALLS}) == []
    assert problems == []


def test_openapi_schema_and_docs(api_client):
    r = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = json.loads(r.content)["paths"]
    for p in ["/api/projects", "/api/tasks/{task_id}", "/api/sessions/spawn"]:
        assert p in paths
    assert api_client.get("/api/docs/").status_code == 200


def test_the_schema_builds_without_a_warning_and_validates(tmp_path):
    from django.core.management import call_command

    # --fail-on-warn: drf-spectacular warned on every schema request before (an enum name collision)
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0.3")
