"""The safety loop's strict mode as a write guard (DESIGN §7.2): while an active safety loop of
the tenant holds ``strictMode``, writes by anyone but an admin are refused (403) and audited
as denied with policy ``safety.strict``. Registered with the write path when the app starts."""

from __future__ import annotations

from maestro.core.actors import Actor
from maestro.core.exceptions import Forbidden, Refusal
from maestro.core.roles import Role
from maestro.write_path.guards import register_write_guard
from orchestration.autonomic.selectors import strict_mode_on

STRICT_POLICY = "safety.strict"


def strict_mode_guard(tenant_id: int, actor: Actor, role: str) -> Refusal | None:
    if Role.rank(role) >= Role.rank(Role.ADMIN) or not strict_mode_on(tenant_id=tenant_id):
        return None
    return Forbidden("Strict mode is on: only admins may write", policy=STRICT_POLICY,
                     details={"policy": STRICT_POLICY, "role": role})


def register() -> None:
    register_write_guard(strict_mode_guard)
