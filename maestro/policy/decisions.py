"""The decision points' input, and what a denial becomes.

The input every decision gets (the policies' contract, docs/operations.md "Policies")::

    {"operation": "run.start" | "playbook.run" | "step.execute",
     "tenant": "<slug>",
     "subject": {"name", "type" (user | api | job | system), "role" (in the tenant, "" for
                 jobs and the system), "via" (api | admin | job | system)},
     "time": "2026-11-27T15:00:00.000000Z", "clock": {"weekday": "Friday", "hour": 15, "minute": 0},
     ... the operation's own fields: "workflow" (run.start), "playbook" (playbook.run),
     "run": {"id", "pipeline", "executor"} and "step": {"id", "action", "params", "host"}
     (step.execute; "host" is the host of params.url, lowercased, or null)}

``time`` and ``clock`` are UTC and come from the caller (the engine's clock), so a policy about
hours is deterministic under test."""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from maestro.core.actors import Actor
from maestro.core.exceptions import Forbidden
from maestro.policy.engine import Decision, PolicyUnavailable, engine

log = logging.getLogger(__name__)

UNAVAILABLE_POLICY = "policy_engine.unavailable"


@dataclass(frozen=True)
class Subject:
    """Who asks: the actor, their role in the tenant, and the surface they came through."""

    name: str
    type: str
    role: str
    via: str

    @classmethod
    def of(cls, actor: Actor, *, role: str = "", via: str | None = None) -> Subject:
        default = {"job": "job", "system": "system"}.get(actor.actor_type, "api")
        return cls(name=actor.name, type=actor.actor_type, role=role, via=via or default)

    def as_input(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "role": self.role, "via": self.via}


@dataclass(frozen=True)
class Verdict:
    """A decision as the decision points record it: ``policy_id`` is what the audit row and the
    ledger entry carry (``<policy>@<version>``, cut to the audit column)."""

    allowed: bool
    policy: str
    version: str
    message: str
    reasons: list[dict[str, str]]

    @property
    def policy_id(self) -> str:
        return (f"{self.policy}@{self.version}" if self.version else self.policy)[:100]

    def describe(self) -> str:
        return f"Denied by policy {self.policy_id}: {self.message}"


class PolicyDenied(Forbidden):
    """403 ``FORBIDDEN``: a policy (or an engine that could not answer) refused the operation;
    recorded by the write path as a denial under ``policy_id``."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.describe(), policy=verdict.policy_id,
                         details={"policy": verdict.policy, "policyVersion": verdict.version,
                                  "reasons": verdict.reasons})
        self.verdict = verdict


def policy_input(*, operation: str, tenant: str, subject: Subject, now: datetime, **fields: Any) -> dict[str, Any]:
    utc = now.astimezone(UTC)
    return {"operation": operation, "tenant": tenant, "subject": subject.as_input(),
            "time": utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "clock": {"weekday": utc.strftime("%A"), "hour": utc.hour, "minute": utc.minute}, **fields}


def decide(input: dict[str, Any]) -> Verdict:
    """The policy's verdict on ``input``; an engine that cannot answer denies."""
    try:
        decision: Decision = engine().evaluate(input)
    except PolicyUnavailable as exc:
        log.warning("policy engine unavailable: denied", extra={"event": "policy.unavailable", "error": str(exc),
                                                                  "operation": input.get("operation")})
        reason = {"rule": "unavailable", "message": f"the policy engine could not answer: {exc}"}
        return Verdict(allowed=False, policy=UNAVAILABLE_POLICY, version="", message=reason["message"],
                       reasons=[reason])
    return Verdict(allowed=decision.allowed, policy=decision.policy, version=decision.version,
                   message=decision.message, reasons=decision.reasons)


def authorize(*, operation: str, tenant: str, subject: Subject, now: datetime, **fields: Any) -> Verdict:
    """Raises :class:`PolicyDenied` unless the policy allows; call it inside the service's
    ``write_path.service(change)``, which records the refusal as the change's denial."""
    verdict = decide(policy_input(operation=operation, tenant=tenant, subject=subject, now=now, **fields))
    if not verdict.allowed:
        raise PolicyDenied(verdict)
    return verdict


def step_input_fields(*, run_id: str, pipeline: str, executor: str, step_id: str, action: str,
                      params: dict[str, Any]) -> dict[str, Any]:
    url = params.get("url")
    host = None
    if isinstance(url, str):
        try:
            host = (urllib.parse.urlsplit(url).hostname or "").lower() or None
        except ValueError:
            host = None
    return {"run": {"id": run_id, "pipeline": pipeline, "executor": executor},
            "step": {"id": step_id, "action": action, "params": params, "host": host}}
