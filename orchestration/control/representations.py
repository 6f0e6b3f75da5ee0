"""API shapes of the control state (the old ``MaestroService``): camelCase, ISO-8601
timestamps; runs keep the old snake_case row shape. Event payloads use the same functions
("the rest carry the full object as the REST API returns it")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from maestro.core.wire import to_iso
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.merge_trains import MergeTrain, MergeTrainPullRequest
from orchestration.control.models.playbooks import Playbook

THROUGHPUT_WINDOW = timedelta(hours=24)


iso = to_iso


def loop_repr(loop: AutonomicLoop) -> dict[str, Any]:
    return {
        "id": loop.slug,
        "name": loop.name,
        "type": loop.type,
        "status": loop.status,
        "lastDecision": loop.last_decision,
        "lastRun": iso(loop.last_run),
        "config": loop.config,
        "version": loop.version,
    }


def agent_repr(agent: AgentProfile) -> dict[str, Any]:
    return {
        "id": agent.slug,
        "name": agent.name,
        "role": agent.role,
        "model": agent.model,
        "status": agent.status,
        "metrics": {
            "successRate": agent.success_rate,
            "latencyP95": agent.latency_p95,
            "costPerTask": agent.cost_per_task,
        },
        "routingWeight": agent.routing_weight,
        "version": agent.version,
    }


def variant_details(experiment: Experiment) -> list[dict[str, Any]]:
    return [{"id": v.key, "trafficWeight": v.traffic_weight, "configOverrides": v.config_overrides}
            for v in experiment.variant_rows.all()]


def experiment_repr(experiment: Experiment) -> dict[str, Any]:
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
        "startDate": iso(experiment.start_date),
        "endDate": iso(experiment.end_date),
        "version": experiment.version,
    }


def playbook_repr(playbook: Playbook) -> dict[str, Any]:
    return {
        "id": playbook.slug,
        "name": playbook.name,
        "description": playbook.description,
        "triggers": playbook.triggers,
        "actions": playbook.actions,
        "isEnabled": playbook.is_enabled,
        "version": playbook.version,
    }


def pull_request_repr(pr: MergeTrainPullRequest) -> dict[str, Any]:
    return {"number": pr.number, "title": pr.title, "author": pr.author, "status": pr.status, "url": pr.url}


def merge_train_repr(train: MergeTrain, *, now: datetime | None = None) -> dict[str, Any]:
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
