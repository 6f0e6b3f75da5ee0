"""API shapes of the control state (the old ``MaestroService``): camelCase, ISO-8601
timestamps. Event payloads use the same functions ("the rest carry the full object as the REST
API returns it"). Each shape is the TypedDict its function returns; the OpenAPI document is
derived from them (no ``from __future__ import annotations``: see work/representations.py)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

from maestro.core.wire import IsoTime as Iso
from maestro.core.wire import to_iso
from orchestration.control.agent_metrics import NO_RUNS, AgentMetrics, agent_metrics
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from orchestration.control.models.merge_trains import MergeTrain, MergeTrainPullRequest
from orchestration.control.models.playbooks import Playbook

THROUGHPUT_WINDOW = timedelta(hours=24)


class LoopOut(TypedDict):
    id: str
    name: str
    type: Annotated[str, AutonomicLoop.Type]
    status: Annotated[str, AutonomicLoop.Status]
    lastDecision: str
    lastRun: Iso | None
    config: dict[str, Any]
    version: Annotated[int, "sent as ETag; If-Match (or a body version) with a stale one is 412"]


class DecisionOut(TypedDict):
    id: str
    loopId: str
    timestamp: Iso
    action: Annotated[str, "what the tick did: none, quarantine, restore, shift_weight, strict_mode"]
    summary: Annotated[str, "the loop's lastDecision"]
    details: dict[str, Any]


class AgentMetricsOut(TypedDict):
    successRate: Annotated[float, "% of the agent's finished runs in the window that succeeded (100 with none)"]
    latencyP95: Annotated[float, "95th percentile of their duration_ms (0 with none)"]
    costPerTask: Annotated[float, "mean cost of a finished run (0 with none)"]
    sampleSize: Annotated[int, "finished runs (succeeded or failed) in the window the figures are counted from"]


class AgentOut(TypedDict):
    id: str
    name: str
    role: str
    model: str
    status: Annotated[str, AgentProfile.Status]
    metrics: AgentMetricsOut
    routingWeight: int
    version: Annotated[int, "sent as ETag; If-Match (or a body version) with a stale one is 412"]


class VariantOut(TypedDict):
    id: str
    trafficWeight: int
    configOverrides: dict[str, Any]


class ExperimentOut(TypedDict):
    id: str
    name: str
    hypothesis: str
    status: Annotated[str, Experiment.Status]
    variants: list[str]
    variantDetails: list[VariantOut]
    metrics: dict[str, Any]
    stopConditions: list[dict[str, Any]]
    startDate: Iso | None
    endDate: Iso | None
    version: Annotated[int, "sent as ETag; If-Match (or a body version) with a stale one is 412"]


class PlaybookOut(TypedDict):
    id: str
    name: str
    description: str
    triggers: list[str]
    actions: list[str]
    isEnabled: bool
    version: Annotated[int, "sent as ETag; If-Match (or a body version) with a stale one is 412"]


class PullRequestOut(TypedDict):
    number: int
    title: str
    author: str
    status: Annotated[str, MergeTrainPullRequest.Status]
    url: str


class MergeTrainOut(TypedDict):
    id: str
    status: Annotated[str, MergeTrain.Status]
    queueLength: int
    throughput: int
    activePRs: list[PullRequestOut]
    version: Annotated[int, "sent as ETag; If-Match (or a body version) with a stale one is 412"]


class SuccessOut(TypedDict):
    success: bool


class AssignmentOut(TypedDict):
    experimentId: str
    entityId: str
    variant: str


class ObservedOut(TypedDict):
    recorded: int
    experiment: ExperimentOut
    stopConditionsMet: list[str]


class MetricResultOut(TypedDict):
    count: int
    mean: float
    diffToControl: float | None
    diffToControlPercent: float | None


class VariantResultOut(TypedDict):
    variant: str
    trafficWeight: int
    isControl: bool
    metrics: dict[str, MetricResultOut]


class ResultsOut(TypedDict):
    experimentId: str
    status: str
    control: str
    totalObservations: int
    variants: list[VariantResultOut]


def loop_repr(loop: AutonomicLoop) -> LoopOut:
    return {
        "id": loop.slug,
        "name": loop.name,
        "type": loop.type,
        "status": loop.status,
        "lastDecision": loop.last_decision,
        "lastRun": to_iso(loop.last_run),
        "config": loop.config,
        "version": loop.version,
    }


def decision_repr(row: LoopDecision, *, loop_id: str | None = None) -> DecisionOut:
    """``loop_id``: the loop's slug when the caller has it (else read through ``row.loop``)."""
    return {
        "id": str(row.id),
        "loopId": loop_id if loop_id is not None else row.loop.slug,
        "timestamp": to_iso(row.created_at),
        "action": row.action,
        "summary": row.decision,
        "details": row.details,
    }


def agent_repr(agent: AgentProfile, metrics: AgentMetrics | None = None) -> AgentOut:
    """The agent with its metrics counted from its runs (looked up when not given)."""
    if metrics is None:
        metrics = agent_metrics(tenant_id=agent.tenant_id, agent_ids=[agent.slug]).get(agent.slug, NO_RUNS)
    return {
        "id": agent.slug,
        "name": agent.name,
        "role": agent.role,
        "model": agent.model,
        "status": agent.status,
        "metrics": {
            "successRate": metrics.success_rate,
            "latencyP95": metrics.latency_p95,
            "costPerTask": metrics.cost_per_task,
            "sampleSize": metrics.runs,
        },
        "routingWeight": agent.routing_weight,
        "version": agent.version,
    }


def agents_repr(agents: list[AgentProfile]) -> list[AgentOut]:
    """A page of agents (of one tenant), their metrics counted in one grouped query."""
    if not agents:
        return []
    metrics = agent_metrics(tenant_id=agents[0].tenant_id, agent_ids=[a.slug for a in agents])
    return [agent_repr(a, metrics.get(a.slug, NO_RUNS)) for a in agents]


def variant_details(experiment: Experiment) -> list[VariantOut]:
    return [{"id": v.key, "trafficWeight": v.traffic_weight, "configOverrides": v.config_overrides}
            for v in experiment.variant_rows.all()]


def experiment_repr(experiment: Experiment) -> ExperimentOut:
    details = variant_details(experiment)
    return {
        "id": experiment.slug,
        "name": experiment.name,
        "hypothesis": experiment.hypothesis,
        "status": experiment.status,
        # Old clients read `variants` as a list of ids; the full objects are in variantDetails.
        "variants": [d["id"] for d in details],
        "variantDetails": details,
        "metrics": experiment.metrics,
        "stopConditions": experiment.stop_conditions,
        "startDate": to_iso(experiment.start_date),
        "endDate": to_iso(experiment.end_date),
        "version": experiment.version,
    }


def playbook_repr(playbook: Playbook) -> PlaybookOut:
    return {
        "id": playbook.slug,
        "name": playbook.name,
        "description": playbook.description,
        "triggers": playbook.triggers,
        "actions": playbook.actions,
        "isEnabled": playbook.is_enabled,
        "version": playbook.version,
    }


def pull_request_repr(pr: MergeTrainPullRequest) -> PullRequestOut:
    return {"number": pr.number, "title": pr.title, "author": pr.author, "status": pr.status, "url": pr.url}


def merge_train_repr(train: MergeTrain, *, now: datetime | None = None) -> MergeTrainOut:
    """``queueLength`` counts the PRs still in the train; ``throughput`` is PRs merged (passed)
    in the last 24 hours, i.e. PRs per day. Expects ``pull_requests`` prefetched."""
    now = now or datetime.now(UTC)
    prs = list(train.pull_requests.all())
    active = [pr for pr in prs if pr.status in MergeTrainPullRequest.ACTIVE]
    merged = [pr for pr in prs if pr.status == MergeTrainPullRequest.Status.PASSED
              and pr.finished_at is not None and pr.finished_at >= now - THROUGHPUT_WINDOW]
    return {
        "id": train.slug,
        "status": train.status,
        "queueLength": len(active),
        "throughput": len(merged),
        "activePRs": [pull_request_repr(pr) for pr in active],
        "version": train.version,
    }
