from __future__ import annotations

from typing import Any

import pytest

from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.services.agents import agent_update
from orchestration.control.services.loops import loop_update
from tests.factories import SYSTEM, make_run


def runs(tenant: Any, agent: str, *, ok: int = 0, failed: int = 0, cost: float = 0.0, duration_ms: int = 1000,
         minutes_ago: float = 10) -> None:
    """``ok`` succeeded and ``failed`` failed runs executed by ``agent``."""
    for status, n in (("succeeded", ok), ("failed", failed)):
        for _ in range(n):
            make_run(tenant, executor_id=agent, status=status, cost=cost, duration_ms=duration_ms,
                     minutes_ago=minutes_ago)


def agents(tenant: Any) -> dict[str, tuple[str, int]]:
    return {a.slug: (a.status, a.routing_weight) for a in AgentProfile.objects.filter(tenant=tenant)}


def loop(tenant: Any, slug: str) -> AutonomicLoop:
    return AutonomicLoop.objects.get(tenant=tenant, slug=slug)


def configure(tenant: Any, slug: str, config: dict[str, Any], **changes: Any) -> None:
    loop_update(tenant=tenant, actor=SYSTEM, loop_id=slug, changes={"config": config, **changes})


def weight(tenant: Any, agent: str, value: int) -> None:
    agent_update(tenant=tenant, actor=SYSTEM, agent_id=agent, changes={"routing_weight": value})


@pytest.fixture
def tick(seeded):
    """Ticks a loop of the seeded tenant now, as an operator's "run now" does."""
    from orchestration.autonomic.services import loop_run_now

    def run(slug: str, **kw: Any):  # type: ignore[no-untyped-def]
        return loop_run_now(tenant=seeded, actor=SYSTEM, loop_id=slug, **kw)

    return run
