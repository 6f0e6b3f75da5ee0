"""The four built-in policies acting on runs and audit rows the tests create (DESIGN §7.2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.services import record_denied
from orchestration.control.services.playbooks import playbook_create
from orchestration.runs.models import Run
from tests.factories import SYSTEM
from tests.orchestration.autonomic.conftest import agents, configure, loop, runs, weight
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db
RELIABILITY, COST, SAFETY = "reliability-guardian", "cost-optimization", "safety-sentinel"


def test_reliability_quarantines_an_agent_failing_above_the_threshold(seeded, tick):
    # given: coder failed 3 of 6 runs (50%), planner 1 of 10 (10%), reviewer 3 of 3 (fewer than minRuns 5)
    runs(seeded, "coder", ok=3, failed=3)
    runs(seeded, "planner", ok=9, failed=1)
    runs(seeded, "reviewer", failed=3)
    mark = Mark(seeded)

    # when
    decision = tick(RELIABILITY)

    # then: coder is quarantined (degraded, weight 0), through the agent service
    assert agents(seeded) == {"planner": ("healthy", 100), "coder": ("degraded", 0), "reviewer": ("healthy", 100)}
    assert (decision.action, decision.decision) == ("quarantine", "Quarantined coder (50% of 6 runs failed)")
    assert decision.details["changes"] == [{"agent": "coder", "from": {"status": "healthy", "routingWeight": 80},
                                            "to": {"status": "degraded", "routingWeight": 0},
                                            "reason": "failure rate 50% over 6 runs > 20%"}]
    assert decision.details["alerts"] == ["high_failure_rate"]
    assert decision.details["signals"]["agents"]["reviewer"] == {"runs": 3, "failed": 3, "failureRate": 1.0}
    assert mark.audit_summary() == [("agent.update", "coder", "allowed", ""),
                                    ("loop.decision", RELIABILITY, "allowed", "")]
    assert mark.event_types() == ["audit:created", "agent:updated", "audit:created", "loop:decision"]
    assert [i.action_type for i in mark.intakes()] == ["agent.update", "loop.decision"]
    row = loop(seeded, RELIABILITY)
    assert (row.last_decision, row.last_run, row.version) == (decision.decision, decision.created_at, 1)


def test_reliability_restores_when_the_rate_falls_below_half_the_threshold(seeded, tick):
    # given: coder quarantined an hour ago for 4 failures in 5 runs
    now = timezone.now()
    runs(seeded, "coder", ok=1, failed=4, minutes_ago=90)
    assert tick(RELIABILITY, now=now - timedelta(minutes=60)).action == "quarantine"
    # and since then: 9 successes and 1 failure (10%, not below 10%): stays quarantined
    runs(seeded, "coder", ok=9, failed=1, minutes_ago=20)
    assert tick(RELIABILITY, now=now).action == "none"
    assert agents(seeded)["coder"] == ("degraded", 0)
    # when: 10 more successes bring it to 1 failure in 20 (5% < 10%)
    runs(seeded, "coder", ok=10, minutes_ago=5)
    decision = tick(RELIABILITY, now=now)

    # then: restored to the weight it had before its quarantine
    assert agents(seeded)["coder"] == ("healthy", 80)
    assert (decision.action, decision.decision) == ("restore", "Restored coder")
    assert decision.details["changes"][0]["reason"] == "failure rate 5% over 20 runs < 10%"


def test_a_quarantined_agent_whose_failures_aged_out_of_the_window_is_restored(seeded, tick):
    # given
    now = timezone.now()
    runs(seeded, "coder", failed=5, minutes_ago=30)
    tick(RELIABILITY, now=now)

    # when: two hours later no run of coder is left in the 1h window
    decision = tick(RELIABILITY, now=now + timedelta(hours=2))

    # then
    assert decision.action == "restore"
    assert agents(seeded)["coder"] == ("healthy", 80)


def test_config_edits_take_effect_at_the_next_tick(seeded, tick):
    # given: coder fails 50%, and an operator raised the threshold to 60% with 4 runs minimum
    runs(seeded, "coder", ok=2, failed=2)
    configure(seeded, RELIABILITY, {"failureRateThreshold": 0.6, "minRuns": 4})

    # when
    first = tick(RELIABILITY)
    configure(seeded, RELIABILITY, {"failureRateThreshold": 0.4, "minRuns": 4})
    second = tick(RELIABILITY)

    # then
    assert (first.action, first.decision) == ("none", "No agent above a 60% failure rate (3 agents checked)")
    assert second.action == "quarantine"


def test_the_old_names_of_the_settings_are_read_too(seeded, tick):
    # given: the old errorRateThreshold / minSamples
    runs(seeded, "coder", ok=1, failed=1)
    configure(seeded, RELIABILITY, {"errorRateThreshold": 0.3, "minSamples": 2})

    # when / then
    assert tick(RELIABILITY).action == "quarantine"


def test_cost_moves_weight_from_an_expensive_agent_to_the_cheapest_healthy_one(seeded, tick):
    # given: coder costs 0.5 per task, planner 0.05, reviewer 0.08 (all with 5 runs); threshold 0.1
    configure(seeded, COST, {"threshold": 0.1, "shift": 25, "interval": "15m"})
    weight(seeded, "planner", 50)
    runs(seeded, "coder", ok=5, cost=0.5)
    runs(seeded, "planner", ok=5, cost=0.05)
    runs(seeded, "reviewer", ok=5, cost=0.08)
    mark = Mark(seeded)

    # when
    decision = tick(COST)

    # then
    assert agents(seeded) == {"planner": ("healthy", 75), "coder": ("healthy", 55), "reviewer": ("healthy", 100)}
    assert (decision.action, decision.decision) == (
        "shift_weight", "Shifted 25 points of routing weight from coder (0.5) to planner")
    assert decision.details["alerts"] == ["high_cost"]
    assert [a for a, *_ in mark.audit_summary()] == ["agent.update", "agent.update", "loop.decision"]


def test_cost_below_the_threshold_decides_nothing(seeded, tick):
    # given: the seeded threshold 0.8
    runs(seeded, "coder", ok=5, cost=0.5)

    # when
    decision = tick(COST)

    # then
    assert (decision.action, decision.decision) == ("none", "No agent above 0.8 costPerTask (3 agents checked)")
    assert agents(seeded)["coder"] == ("healthy", 80)
    assert loop(seeded, COST).last_decision == decision.decision


def test_performance_moves_weight_from_a_slow_agent_to_the_fastest(seeded):
    from orchestration.autonomic.services import loop_run_now
    from orchestration.control.services.loops import loop_create

    # given
    loop_create(tenant=seeded, actor=SYSTEM, loop_id="latency", name="Latency", type="performance",
                config={"latencyThreshold": 1000, "shift": 30, "minRuns": 3})
    weight(seeded, "reviewer", 40)
    runs(seeded, "coder", ok=3, duration_ms=5000)
    runs(seeded, "reviewer", ok=3, duration_ms=200)
    runs(seeded, "planner", ok=3, duration_ms=900)

    # when
    decision = loop_run_now(tenant=seeded, actor=SYSTEM, loop_id="latency")

    # then
    assert agents(seeded) == {"planner": ("healthy", 100), "coder": ("healthy", 50), "reviewer": ("healthy", 70)}
    assert decision.decision == "Shifted 30 points of routing weight from coder (5000 ms) to reviewer"
    assert decision.details["alerts"] == ["high_latency"]


def test_safety_turns_strict_mode_on_above_max_denials(seeded, tick):
    # given: an active safety loop allowing 1 denial, and 2 denied audit rows in the window
    configure(seeded, SAFETY, {"maxDenials": 1}, status="active")
    for n in range(2):
        record_denied(tenant_id=seeded.pk, actor=Actor("mallory"), action=Action.TASK_DELETE,
                      resource_type=Resource.TASK, resource_id=f"task_{n}", policy_id="rbac.requires_operator")

    # when
    decision = tick(SAFETY)

    # then
    assert (decision.action, decision.decision) == (
        "strict_mode", "Strict mode on: 2 denied events in the window (more than 1)")
    assert loop(seeded, SAFETY).config == {"maxDenials": 1, "strictMode": True}
    assert decision.details["alerts"] == ["policy_denials"]


def test_safety_within_max_denials_decides_nothing(seeded, tick):
    # given
    configure(seeded, SAFETY, {"maxDenials": 1}, status="active")
    record_denied(tenant_id=seeded.pk, actor=Actor("mallory"), action=Action.TASK_DELETE,
                  resource_type=Resource.TASK, resource_id="task_1", policy_id="rbac.requires_operator")

    # when
    decision = tick(SAFETY)

    # then
    assert (decision.action, decision.decision) == ("none", "1 denied events in the window (at most 1 allowed)")
    assert "strictMode" not in loop(seeded, SAFETY).config


def test_playbooks_whose_triggers_match_the_action_or_an_alert_fire(seeded, tick):
    # given: playbooks on quarantine, on the alert, disabled, and on something else
    for slug, triggers, enabled in (("pb-drain", ["quarantine"], True), ("pb-page", ["high_failure_rate"], True),
                                    ("pb-off", ["quarantine"], False), ("pb-other", ["cost_spike"], True)):
        playbook_create(tenant=seeded, actor=SYSTEM, playbook_id=slug, name=slug, triggers=triggers,
                        actions=["noop"], is_enabled=enabled)
    runs(seeded, "coder", failed=5)

    # when
    decision = tick(RELIABILITY)

    # then: each enabled match started a run of its actions, recorded in the decision
    fired = decision.details["playbooks"]
    assert [(p["id"], p["matched"]) for p in fired] == [("pb-drain", ["quarantine"]),
                                                          ("pb-page", ["high_failure_rate"])]
    runs_started = Run.objects.filter(pipeline__startswith="playbook:")
    started = {r.id: (r.pipeline, r.input_params["action"]) for r in runs_started}
    assert started == {fired[0]["runId"]: ("playbook:pb-drain", "quarantine"),
                       fired[1]["runId"]: ("playbook:pb-page", "quarantine")}


def test_a_playbook_the_policy_refuses_is_a_denial_in_the_ticks_records(seeded, tick, tmp_path, settings):
    from maestro.policy.bundle import bundle_load

    # given: an operator's rule that keeps the loops from running pb-drain
    extra = tmp_path / "policies"
    extra.mkdir()
    (extra / "no_drain.rego").write_text(
        'package maestro.authz\nimport rego.v1\ndeny contains {"rule": "no_drain", "message": "not by loops"} if {\n'
        '  input.operation == "playbook.run"\n  input.playbook == "pb-drain"\n'
        '  input.subject.via in {"job", "system"}\n}\n')
    settings.MAESTRO_POLICY_DIRS = [str(extra)]
    policy_id = f"maestro.authz.no_drain@{bundle_load().revision}"
    for slug in ("pb-drain", "pb-page"):
        playbook_create(tenant=seeded, actor=SYSTEM, playbook_id=slug, name=slug,
                        triggers=["quarantine", "high_failure_rate"], actions=["noop"], is_enabled=True)
    runs(seeded, "coder", failed=5)
    mark = Mark(seeded)

    # when
    decision = tick(RELIABILITY)

    # then: pb-page started; pb-drain refused, in the decision and as a denied audit row and ledger entry
    fired = decision.details["playbooks"]
    assert [(p["id"], p.get("error")) for p in fired] == [
        ("pb-drain", f"Denied by policy {policy_id}: not by loops"), ("pb-page", None)]
    assert list(Run.objects.filter(pipeline__startswith="playbook:").values_list("pipeline", flat=True)) == [
        "playbook:pb-page"]
    assert [a for a in mark.audit_summary() if a[2] == "denied"] == [("run.create", "pb-drain", "denied", policy_id)]
    denied = [a for a in mark.audits() if a.status == "denied"][0]
    assert (denied.actor, denied.actor_type) == (SYSTEM.name, SYSTEM.actor_type)
    assert [i.action_type for i in mark.intakes()].count("run.create") == 2  # pb-page's start and pb-drain's denial


def test_a_tick_that_decides_nothing_starts_no_playbook(seeded, tick):
    # given
    playbook_create(tenant=seeded, actor=SYSTEM, playbook_id="pb-none", name="n", triggers=["none"], is_enabled=True)

    # when
    decision = tick(RELIABILITY)

    # then
    assert decision.details["playbooks"] == []


def test_each_tick_is_counted_by_type_and_action_and_timed(seeded, tick):
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    # given
    runs(seeded, "coder", failed=5)
    before = (sample("maestro_loop_decisions_total", type="reliability", action="quarantine"),
              sample("maestro_loop_decisions_total", type="cost", action="none"),
              sample("maestro_loop_tick_duration_seconds_count", type="reliability"))

    # when
    tick(RELIABILITY)
    tick(COST)

    # then
    assert (sample("maestro_loop_decisions_total", type="reliability", action="quarantine"),
            sample("maestro_loop_decisions_total", type="cost", action="none"),
            sample("maestro_loop_tick_duration_seconds_count", type="reliability")) == tuple(b + 1 for b in before)
