"""What a write left behind.

Take a :class:`Mark` before the call under test. It remembers the high-water marks of the
write path's three stores (audit rows, ledger intake rows, realtime events), the tenant's event
stream head, the row count of every table a write may touch and every domain row. Afterwards:

- ``audits()``, ``intakes()``, ``events()``, ``event_types()``, ``audit_summary()``: what was added
  since the mark, in every tenant (a write that leaks into another tenant shows up too);
- ``assert_written(types, action=...)``: one mutation, as every service records it: exactly one
  allowed audit row, its ledger intake row, and exactly ``types`` as gapless events;
- ``assert_denied()``: a refusal: one denied audit row with its intake row and its
  ``audit:created`` event, and no domain change;
- ``assert_nothing_written()``: nothing added to or changed in any of those tables.
"""

from __future__ import annotations

from typing import Any

from ledger.models import IntakeEntry
from maestro.tenancy.models import Tenant
from maestro.write_path.models import AuditEvent
from orchestration.engine.models import DeadLetter, RunStep, StepTransition, WorkflowDefinition
from orchestration.runs.models import Run
from orchestration.work.models import (
    Project,
    Session,
    SessionEvent,
    SessionTask,
    SessionTimelineEvent,
    Subtask,
    Task,
    TaskTimelineEvent,
)
from realtime.models import Event, EventStream

DOMAIN = (Project, Task, Subtask, TaskTimelineEvent, Session, SessionTask, SessionEvent, SessionTimelineEvent,
          WorkflowDefinition, Run, RunStep, StepTransition, DeadLetter)
# Every table a write may touch: tenants (an import creates its tenant), the domain, the write path.
STORES = (Tenant, *DOMAIN, AuditEvent, IntakeEntry, Event)


def head(tenant: Any) -> int:
    """The last seq of the tenant's event stream."""
    return EventStream.objects.filter(tenant=tenant).values_list("last_seq", flat=True).first() or 0


def store_counts() -> dict[str, int]:
    """Row counts of every table a write may touch."""
    return {m.__name__: m.objects.count() for m in STORES}


def domain_state() -> dict[str, list[str]]:
    """Every domain row, so "nothing stored changes" covers edits as well as inserts."""
    return {m.__name__: sorted(map(repr, m.objects.values_list())) for m in DOMAIN}


def _last(model: Any, field: str) -> int:
    return model.objects.order_by(f"-{field}").values_list(field, flat=True).first() or 0


class Mark:
    """The stores as they were when the mark was taken, to assert on exactly what a call added."""

    def __init__(self, tenant: Any) -> None:
        self.tenant = tenant
        self.seq = head(tenant)
        self.audit = _last(AuditEvent, "id")
        self.intake = _last(IntakeEntry, "pk_id")
        self.event = _last(Event, "id")
        self.counts = store_counts()
        self.state = domain_state()

    def audits(self) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(id__gt=self.audit).order_by("id"))

    def audit_summary(self) -> list[tuple[str, str, str, str]]:
        return [(a.action, a.resource, a.status, a.policy_id) for a in self.audits()]

    def intakes(self) -> list[IntakeEntry]:
        return list(IntakeEntry.objects.filter(pk_id__gt=self.intake).order_by("pk_id"))

    def events(self) -> list[Event]:
        return list(Event.objects.filter(id__gt=self.event).order_by("seq", "id"))

    def event_types(self) -> list[str]:
        return [e.type for e in self.events()]

    def assert_written(self, types: list[str], *, action: str, resource: str | None = None,
                       actor: str = "olivia", actor_type: str = "api", request_id: str | None = None) -> AuditEvent:
        """Exactly one allowed audit row, one intake row, and exactly ``types`` as new events of
        the tenant, with seqs following on from the mark with no gap."""
        audits = self.audits()
        assert [(a.action, a.status, a.actor, a.actor_type) for a in audits] == [
            (action, "allowed", actor, actor_type)
        ]
        audit = audits[0]
        assert audit.tenant_id == self.tenant.pk
        if resource is not None:
            assert audit.resource == resource
        if request_id is not None:
            assert audit.request_id == request_id
        else:
            assert audit.request_id != ""
        intakes = self.intakes()
        assert [(i.action_type, i.tenant_id, i.actor_id) for i in intakes] == [(action, self.tenant.pk, actor)]
        assert intakes[0].metadata["auditId"] == audit.id
        assert intakes[0].metadata["requestId"] == audit.request_id
        events = self.events()
        assert [(e.type, e.tenant_id) for e in events] == [(t, self.tenant.pk) for t in types]
        assert [e.seq for e in events] == list(range(self.seq + 1, self.seq + 1 + len(types)))
        assert head(self.tenant) == self.seq + len(types)
        assert {e.request_id for e in events} == {audit.request_id}
        assert events[0].data["id"] == str(audit.id)
        return audit

    def assert_denied(self, *, policy_id: str = "rbac.requires_operator", actor: str = "victor") -> AuditEvent:
        """A refusal: one ``denied`` audit row (with its intake row and audit event) and no
        domain change."""
        audits = self.audits()
        assert [(a.status, a.actor, a.policy_id) for a in audits] == [("denied", actor, policy_id)]
        assert len(self.intakes()) == 1
        assert self.event_types() == ["audit:created"]
        assert domain_state() == self.state
        return audits[0]

    def assert_nothing_written(self) -> None:
        assert (self.audits(), self.intakes(), self.events()) == ([], [], [])
        assert store_counts() == self.counts
        assert domain_state() == self.state
        assert head(self.tenant) == self.seq
