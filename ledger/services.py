from __future__ import annotations

from typing import Any

from django.utils import timezone

from ledger.models import IntakeEntry


def intake_add(*, tenant: Any, action_type: str, resource_type: str, resource_id: str, actor_id: str,
               actor_type: str, payload: dict[str, Any], metadata: dict[str, Any]) -> IntakeEntry:
    """Append to the ledger intake in the caller's transaction (no lock, no chain work)."""
    return IntakeEntry.objects.create(
        tenant=tenant, timestamp=timezone.now(), action_type=action_type, resource_type=resource_type,
        resource_id=resource_id, actor_id=actor_id, actor_type=actor_type, payload=payload, metadata=metadata,
    )


def sequencer_poke_on_commit(*, tenant_ids: list[int]) -> None:
    """After commit, ask the sequencer to chain these tenants' new intake rows."""
    # The batched sequencer (DESIGN §6) is wired in by the ledger work; until then intake
    # rows accumulate safely and are sequenced by its sweep.
    return None
