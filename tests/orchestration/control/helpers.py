"""What a control-state write leaves behind: audit rows, ledger intake rows, events."""

from __future__ import annotations

from typing import Any

from ledger.models import IntakeEntry
from maestro.write_path.models import AuditEvent
from realtime.models import Event


class Mark:
    """Remembers the high-water marks, to assert on exactly what a call added."""

    def __init__(self, tenant: Any) -> None:
        self.tenant = tenant
        self.audit = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.intake = IntakeEntry.objects.order_by("-pk_id").values_list("pk_id", flat=True).first() or 0
        self.event = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def audits(self) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(id__gt=self.audit).order_by("id"))

    def audit_summary(self) -> list[tuple[str, str, str, str]]:
        return [(a.action, a.resource, a.status, a.policy_id) for a in self.audits()]

    def intakes(self) -> list[IntakeEntry]:
        return list(IntakeEntry.objects.filter(pk_id__gt=self.intake).order_by("pk_id"))

    def events(self) -> list[Event]:
        return list(Event.objects.filter(id__gt=self.event).order_by("seq"))

    def event_types(self) -> list[str]:
        return [e.type for e in self.events()]

    def nothing_written(self) -> bool:
        return not self.audits() and not self.intakes() and not self.events()
