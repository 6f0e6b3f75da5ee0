"""The four built-in policies (DESIGN §7.2): analyse the signals a tick gathered against the
loop's config and plan a decision. Pure: what they read is passed in, what they decide is a
:class:`Plan` the tick executes through the control services."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestration.autonomic import config as cfg
from orchestration.control.agent_metrics import NO_RUNS, AgentMetrics
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.loops import LoopDecision

HEALTHY, DEGRADED = AgentProfile.Status.HEALTHY, AgentProfile.Status.DEGRADED


class Act:
    """What a tick did (a decision's ``action``; playbooks' ``triggers`` name these)."""

    NONE = LoopDecision.NONE
    QUARANTINE = "quarantine"
    RESTORE = "restore"
    SHIFT_WEIGHT = "shift_weight"
    STRICT_MODE = "strict_mode"


class Alert:
    """Alerts a policy raises when a signal crosses its threshold (playbooks' ``triggers`` may
    name these too)."""

    HIGH_FAILURE_RATE = "high_failure_rate"
    HIGH_COST = "high_cost"
    HIGH_LATENCY = "high_latency"
    POLICY_DENIALS = "policy_denials"


@dataclass(frozen=True)
class AgentChange:
    agent_id: str
    changes: dict[str, Any]  # the agent service's field names: status, routing_weight
    before: dict[str, Any]
    reason: str

    def describe(self) -> dict[str, Any]:
        after = {"status": self.changes.get("status", self.before["status"]),
                 "routingWeight": self.changes.get("routing_weight", self.before["routingWeight"])}
        return {"agent": self.agent_id, "from": self.before, "to": after, "reason": self.reason}


@dataclass
class Plan:
    action: str = Act.NONE
    summary: str = ""
    agent_changes: list[AgentChange] = field(default_factory=list)
    strict_mode: bool = False
    alerts: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)  # every action taken (``action`` is the first)


def _state(agent: AgentProfile) -> dict[str, Any]:
    return {"status": agent.status, "routingWeight": agent.routing_weight}


def _quarantined(agent: AgentProfile) -> bool:
    return agent.status == DEGRADED and agent.routing_weight == 0


def _pct(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def reliability(config: Mapping[str, Any], agents: Sequence[AgentProfile], metrics: Mapping[str, AgentMetrics],
                restore_weight: Callable[[str], int]) -> Plan:
    """Quarantine (degraded, weight 0) an agent with at least ``minRuns`` finished runs in the
    window and a failure rate above ``failureRateThreshold``; restore a quarantined one whose
    rate fell below half of it (with no runs left in the window its failures have aged out:
    it gets traffic again, and is quarantined again if it still fails)."""
    threshold = float(cfg.setting(config, "failureRateThreshold", "errorRateThreshold",
                                  default=cfg.DEFAULT_FAILURE_RATE))
    need = cfg.min_runs(config)
    plan = Plan(signals={"failureRateThreshold": threshold, "minRuns": need, "agents": {}})
    quarantined, restored = [], []
    for agent in agents:
        m = metrics.get(agent.slug, NO_RUNS)
        plan.signals["agents"][agent.slug] = {"runs": m.runs, "failed": m.failed,
                                              "failureRate": round(m.failure_rate, 4)}
        if not _quarantined(agent) and m.runs >= need and m.failure_rate > threshold:
            plan.agent_changes.append(AgentChange(
                agent.slug, {"status": DEGRADED, "routing_weight": 0}, _state(agent),
                f"failure rate {_pct(m.failure_rate)} over {m.runs} runs > {_pct(threshold)}"))
            quarantined.append(f"{agent.slug} ({_pct(m.failure_rate)} of {m.runs} runs failed)")
        elif _quarantined(agent) and m.failure_rate < threshold / 2:
            plan.agent_changes.append(AgentChange(
                agent.slug, {"status": HEALTHY, "routing_weight": restore_weight(agent.slug)}, _state(agent),
                f"failure rate {_pct(m.failure_rate)} over {m.runs} runs < {_pct(threshold / 2)}"))
            restored.append(agent.slug)
    if quarantined:
        plan.actions.append(Act.QUARANTINE)
        plan.alerts.append(Alert.HIGH_FAILURE_RATE)
    if restored:
        plan.actions.append(Act.RESTORE)
    parts = ([f"Quarantined {', '.join(quarantined)}"] if quarantined else []) + (
        [f"Restored {', '.join(restored)}"] if restored else [])
    plan.summary = "; ".join(parts) or (f"No agent above a {_pct(threshold)} failure rate "
                                        f"({len(agents)} agents checked)")
    plan.action = plan.actions[0] if plan.actions else Act.NONE
    return plan


def _shift(config: Mapping[str, Any], agents: Sequence[AgentProfile], metrics: Mapping[str, AgentMetrics], *,
           threshold: float | None, value: Callable[[AgentMetrics], float], measure: str, unit: str,
           alert: str, best: str) -> Plan:
    """Healthy agents whose ``value`` is above ``threshold`` lose ``shift`` points of routing
    weight each, given to the healthy agent with the lowest ``value`` among those measured
    (at least one finished run) and not above it."""
    need, points = cfg.min_runs(config), cfg.shift(config)
    plan = Plan(signals={"threshold": threshold, "minRuns": need, "shift": points, "agents": {
        a.slug: {"runs": metrics.get(a.slug, NO_RUNS).runs, measure: value(metrics.get(a.slug, NO_RUNS))}
        for a in agents}})
    if threshold is None:
        plan.summary = f"No {measure} threshold configured"
        return plan
    healthy = [a for a in agents if a.status == HEALTHY]
    over = sorted((a for a in healthy if metrics.get(a.slug, NO_RUNS).runs >= need
                   and value(metrics[a.slug]) > threshold), key=lambda a: (-value(metrics[a.slug]), a.slug))
    if not over:
        plan.summary = f"No agent above {threshold:g}{unit} {measure} ({len(agents)} agents checked)"
        return plan
    plan.alerts.append(alert)
    names = ", ".join(f"{a.slug} ({value(metrics[a.slug]):g}{unit})" for a in over)
    targets = sorted((a for a in healthy if a not in over and metrics.get(a.slug, NO_RUNS).runs > 0
                      and value(metrics[a.slug]) <= threshold), key=lambda a: (value(metrics[a.slug]), a.slug))
    if not targets:
        plan.summary = f"{names} above {threshold:g}{unit} {measure}; no healthy {best} agent to take their traffic"
        return plan
    target = targets[0]
    room, moved = 100 - target.routing_weight, 0
    for agent in over:
        take = min(points, agent.routing_weight, room - moved)
        if take <= 0:
            continue
        moved += take
        plan.agent_changes.append(AgentChange(
            agent.slug, {"routing_weight": agent.routing_weight - take}, _state(agent),
            f"{measure} {value(metrics[agent.slug]):g}{unit} > {threshold:g}{unit}: -{take} to {target.slug}"))
    if not moved:
        plan.summary = f"{names} above {threshold:g}{unit} {measure}; no weight left to move to {target.slug}"
        return plan
    plan.agent_changes.append(AgentChange(
        target.slug, {"routing_weight": target.routing_weight + moved}, _state(target),
        f"{best} healthy agent ({value(metrics[target.slug]):g}{unit}): +{moved}"))
    plan.action = Act.SHIFT_WEIGHT
    plan.actions.append(Act.SHIFT_WEIGHT)
    plan.summary = f"Shifted {moved} points of routing weight from {names} to {target.slug}"
    return plan


def cost(config: Mapping[str, Any], agents: Sequence[AgentProfile], metrics: Mapping[str, AgentMetrics]) -> Plan:
    threshold = cfg.setting(config, "threshold", "maxCostPerTask")
    return _shift(config, agents, metrics, threshold=None if threshold is None else float(threshold),
                  value=lambda m: m.cost_per_task, measure="costPerTask", unit="", alert=Alert.HIGH_COST,
                  best="cheapest")


def performance(config: Mapping[str, Any], agents: Sequence[AgentProfile],
                metrics: Mapping[str, AgentMetrics]) -> Plan:
    threshold = cfg.setting(config, "latencyThreshold", "latencyP95TargetMs")
    return _shift(config, agents, metrics, threshold=None if threshold is None else float(threshold),
                  value=lambda m: m.latency_p95, measure="latencyP95", unit=" ms", alert=Alert.HIGH_LATENCY,
                  best="fastest")


def safety(config: Mapping[str, Any], *, denials: int) -> Plan:
    """More than ``maxDenials`` denied audit events in the window turn ``strictMode`` on. It
    stays on until an operator turns it off (the refusals it causes are denials too)."""
    limit = int(cfg.setting(config, "maxDenials", "maxDenialsPerHour", default=cfg.DEFAULT_MAX_DENIALS))
    plan = Plan(signals={"deniedEvents": denials, "maxDenials": limit, "strictMode": bool(config.get("strictMode"))})
    if denials <= limit:
        plan.summary = f"{denials} denied events in the window (at most {limit} allowed)"
        return plan
    plan.alerts.append(Alert.POLICY_DENIALS)
    if config.get("strictMode") is True:
        plan.summary = f"{denials} denied events in the window (more than {limit}); strict mode stays on"
        return plan
    plan.strict_mode = True
    plan.action = Act.STRICT_MODE
    plan.actions.append(Act.STRICT_MODE)
    plan.summary = f"Strict mode on: {denials} denied events in the window (more than {limit})"
    return plan
