"""maestro_db.json in and out (orchestration.legacy.control)."""

from __future__ import annotations

import copy

import pytest

from maestro.write_path.models import AuditEvent
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.playbooks import Playbook
from orchestration.legacy.control import export_maestro_db, import_maestro_db
from tests.factories import SYSTEM
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

CONTROL = (AutonomicLoop, AgentProfile, Experiment, Playbook)


def snapshot(tenant):
    rows = {m.__name__: sorted(map(repr, m.objects.filter(tenant=tenant).values_list())) for m in CONTROL}
    rows["AuditEvent"] = sorted(map(repr, AuditEvent.objects.filter(tenant=tenant).values_list()))
    return rows


def test_import_keeps_ids_values_and_timestamps(tenant, legacy_db):
    # when
    report = import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)

    # then
    assert report.ok
    assert report.created == {"loops": ["cost-optimization", "reliability-guardian", "safety-sentinel"],
                              "agents": ["planner", "coder", "reviewer"], "experiments": ["exp-001"],
                              "playbooks": ["pb-restart-pods"], "auditLog": ["k3j2h1", "p9q8r7"]}
    exported = export_maestro_db(tenant=tenant)
    assert exported["loops"] == legacy_db["loops"]
    # the old metrics were constants; an export carries the ones counted from runs (none here)
    assert exported["agents"] == [{**a, "metrics": {"successRate": 100.0, "latencyP95": 0.0, "costPerTask": 0.0}}
                                  for a in legacy_db["agents"]]
    assert exported["playbooks"] == legacy_db["playbooks"]
    experiment = {k: v for k, v in exported["experiments"][0].items() if k not in ("variantDetails", "stopConditions")}
    assert experiment == legacy_db["experiments"][0]
    assert exported["auditLog"][:2] == legacy_db["auditLog"]  # then the import's own audit rows


def test_imported_audit_rows_keep_their_ids_in_the_api(api_client, tenant, legacy_db):
    # given
    import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)

    # when
    rows = api_client.get("/api/maestro/audit/log", {"limit": 5000}).json()

    # then: newest first; the legacy rows are the oldest
    legacy = [r for r in rows if r["id"] in ("k3j2h1", "p9q8r7")]
    assert [(r["id"], r["timestamp"], r["actor"], r["action"]) for r in legacy] == [
        ("p9q8r7", "2024-02-01T12:05:25.456000Z", "bob", "update_agent"),
        ("k3j2h1", "2024-02-01T12:05:24.456000Z", "alice", "toggle_loop")]
    assert rows[-2:] == legacy


def test_a_second_import_changes_nothing(tenant, legacy_db):
    # given
    import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)
    before = snapshot(tenant)
    mark = Mark(tenant)

    # when
    report = import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)

    # then
    assert report.ok
    assert all(ids == [] for ids in report.created.values())
    assert report.skipped["loops"] == ["cost-optimization", "reliability-guardian", "safety-sentinel"]
    assert report.skipped["auditLog"] == ["k3j2h1", "p9q8r7"]
    assert snapshot(tenant) == before
    mark.assert_nothing_written()


def test_import_never_overwrites_an_operators_edit(tenant, legacy_db):
    from orchestration.control.services.loops import loop_set_status

    # given
    import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)
    loop_set_status(tenant=tenant, actor=SYSTEM, loop_id="safety-sentinel", status="active")

    # when
    import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)

    # then
    assert AutonomicLoop.objects.get(tenant=tenant, slug="safety-sentinel").status == "active"


def test_dry_run_reports_and_writes_nothing(tenant, legacy_db):
    # given
    before = snapshot(tenant)
    mark = Mark(tenant)

    # when
    report = import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=True)

    # then
    assert report.dry_run and report.ok
    assert report.created["agents"] == ["planner", "coder", "reviewer"]
    assert snapshot(tenant) == before
    mark.assert_nothing_written()


def test_bad_entries_are_reported_and_the_rest_imported(tenant, legacy_db):
    # given
    data = copy.deepcopy(legacy_db)
    data["loops"][0]["status"] = "banana"
    data["agents"][1]["routingWeight"] = -5
    data["agents"][2]["metrics"]["latencyP95"] = "fast"
    data["experiments"][0]["variants"] = [{"id": "a", "trafficWeight": 10}, {"id": "b", "trafficWeight": 10}]
    data["playbooks"].append({"id": "pb-nameless", "triggers": []})
    data["playbooks"].append("not an object")
    data["auditLog"].append({"id": "zz", "timestamp": "yesterday", "actor": "eve", "action": "x"})

    # when
    report = import_maestro_db(tenant=tenant, data=data, actor=SYSTEM, dry_run=False)

    # then
    assert not report.ok
    assert [(e["section"], e["index"], e["id"], e["reason"]) for e in report.errors] == [
        ("loops", 0, "cost-optimization", "status must be one of active, paused"),
        ("agents", 1, "coder", "routing_weight must be an integer between 0 and 100"),
        ("agents", 2, "reviewer", "metrics.latencyP95 must be a number"),
        ("experiments", 0, "exp-001", "traffic weights must sum to 100 (they sum to 20)"),
        ("playbooks", 1, "pb-nameless", "name is required"),
        ("playbooks", 2, None, "entry must be an object"),
        ("auditLog", 2, "zz", "timestamp is not an ISO-8601 timestamp: 'yesterday'"),
    ]
    assert report.created["loops"] == ["reliability-guardian", "safety-sentinel"]
    assert report.created["agents"] == ["planner"]
    assert report.created["playbooks"] == ["pb-restart-pods"]
    assert not AgentProfile.objects.filter(slug="coder").exists()


def test_a_section_of_the_wrong_type_is_reported(tenant):
    # when
    report = import_maestro_db(tenant=tenant, data={"loops": {"id": "x"}, "agents": []}, actor=SYSTEM, dry_run=False)

    # then
    assert report.errors == [{"section": "loops", "index": None, "id": None, "reason": "loops must be a list"}]


def test_export_then_import_into_another_tenant_round_trips(tenant, other_tenant, legacy_db):
    from orchestration.control.services.experiments import experiment_create
    from orchestration.control.services.loops import loop_set_status

    # given: imported data plus native changes (an audited toggle, a weighted experiment)
    import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)
    loop_set_status(tenant=tenant, actor=SYSTEM, loop_id="safety-sentinel", status="active")
    experiment_create(tenant=tenant, actor=SYSTEM, experiment_id="exp-w", name="Weighted",
                      variants=[{"id": "a", "trafficWeight": 90}, {"id": "b", "trafficWeight": 10}],
                      stop_conditions=[{"type": "maxObservations", "value": 5}])
    exported = export_maestro_db(tenant=tenant)

    # when
    report = import_maestro_db(tenant=other_tenant, data=exported, actor=SYSTEM, dry_run=False)
    again = export_maestro_db(tenant=other_tenant)

    # then
    assert report.ok
    assert again["loops"] == exported["loops"]
    assert again["experiments"] == exported["experiments"]
    assert {r["id"] for r in again["auditLog"]} >= {r["id"] for r in exported["auditLog"]}


def test_importing_an_export_into_the_same_tenant_changes_nothing(tenant, legacy_db):
    from orchestration.control.services.loops import loop_set_status

    # given: native audit rows are exported with their own ids
    import_maestro_db(tenant=tenant, data=legacy_db, actor=SYSTEM, dry_run=False)
    loop_set_status(tenant=tenant, actor=SYSTEM, loop_id="safety-sentinel", status="active")
    exported = export_maestro_db(tenant=tenant)
    before = snapshot(tenant)

    # when
    report = import_maestro_db(tenant=tenant, data=exported, actor=SYSTEM, dry_run=False)

    # then
    assert report.ok and all(ids == [] for ids in report.created.values())
    assert snapshot(tenant) == before


def test_nothing_in_the_write_path_touches_maestro_db_json():
    """The old JSON-file design is gone: only the legacy import/export knows the file."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    offenders = []
    for package in ("maestro", "orchestration", "realtime", "ledger"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text()
            if "maestro_db" in text and path.relative_to(root).as_posix() not in (
                    "orchestration/legacy/control.py", "orchestration/management/commands/maestro_import.py",
                    "orchestration/management/commands/maestro_export.py"):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_an_old_loop_config_key_the_schema_does_not_know_is_kept(api_client, tenant, legacy_db):
    # given: the old system took any config; this performance loop has a key of its own
    data = copy.deepcopy(legacy_db)
    data["loops"].append({"id": "perf-legacy", "name": "Latency", "type": "performance", "status": "active",
                          "config": {"p95TargetMs": 250, "threshold": 0.2}, "lastDecision": ""})
    # when
    report = import_maestro_db(tenant=tenant, data=data, actor=SYSTEM, dry_run=False)
    # then: imported with the key, never skipped
    assert report.ok, report.errors
    assert "perf-legacy" in report.created["loops"]
    loop = api_client.get("/api/maestro/autonomic/loops/perf-legacy").json()
    assert loop["config"] == {"p95TargetMs": 250, "threshold": 0.2}
    # and its later edits keep working: another field, then the config with the kept key
    assert api_client.patch("/api/maestro/autonomic/loops/perf-legacy", {"name": "P95"},
                            format="json").status_code == 200
    r = api_client.patch("/api/maestro/autonomic/loops/perf-legacy",
                         {"config": {"p95TargetMs": 300, "threshold": 0.3}}, format="json")
    assert r.status_code == 200, r.content
    # but a new unknown key (a typo) is still refused, naming it
    r = api_client.patch("/api/maestro/autonomic/loops/perf-legacy",
                         {"config": {"p95TargetMs": 300, "treshold": 0.3}}, format="json")
    assert r.status_code == 400
    assert "treshold" in r.json()["message"]
    assert api_client.get("/api/maestro/autonomic/loops/perf-legacy").json()["config"] == {
        "p95TargetMs": 300, "threshold": 0.3}
