"""Write guards: policies of the domain that may refuse a caller's write before it runs, on
top of the role check (``maestro.auth.permissions``). A part of the domain registers its guard
(the write path never imports the domain); the permission asks every guard about each write a
caller's role allows, and records a refusal as denied under the guard's policy.

The safety loop's strict mode is one (orchestration.autonomic.guards)."""

from __future__ import annotations

from collections.abc import Callable

from maestro.core.actors import Actor
from maestro.core.exceptions import Refusal

# (tenant id, actor, role in the tenant) -> the refusal, or None to let the write through
WriteGuard = Callable[[int, Actor, str], Refusal | None]
_guards: list[WriteGuard] = []


def register_write_guard(guard: WriteGuard) -> None:
    if guard not in _guards:
        _guards.append(guard)


def write_refusal(*, tenant_id: int, actor: Actor, role: str) -> Refusal | None:
    for guard in _guards:
        refusal = guard(tenant_id, actor, role)
        if refusal is not None:
            return refusal
    return None
