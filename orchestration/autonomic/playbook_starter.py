"""THE SEAM TO THE WORKFLOW ENGINE (connect after merging the engine branch).

A tick starts the playbooks its decision triggers through :func:`start_playbook`, and only
through it. The engine provides ``orchestration.engine.services.playbook_start(*, tenant, actor,
playbook, input=None, idempotency_key=None) -> tuple[Run, bool]``; until it is merged this
function starts nothing and says so (``None``), and the decision records which playbooks fired
either way. To connect it, replace the body with::

    from orchestration.engine.services import playbook_start
    run, _ = playbook_start(tenant=tenant, actor=actor, playbook=playbook, input=input,
                            idempotency_key=idempotency_key)
    return run.id
"""

from __future__ import annotations

from typing import Any

from maestro.core.actors import Actor
from maestro.tenancy.models import Tenant
from orchestration.control.models.playbooks import Playbook


def start_playbook(*, tenant: Tenant, actor: Actor, playbook: Playbook, input: dict[str, Any],
                   idempotency_key: str) -> str | None:
    """Starts a run of ``playbook`` and returns its id (``None``: no engine connected yet)."""
    return None
