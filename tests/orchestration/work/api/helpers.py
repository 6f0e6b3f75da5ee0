"""Assertions on the write path shared by the API tests: one mutation writes exactly one
audit row, one ledger intake row and its events (gapless seqs); a refusal writes none."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ledger.models import IntakeEntry
from maestro.write_path.models import AuditEvent
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

ID_RE = {prefix: re.compile(rf"^{prefix}_\d{{13}}_[0-9a-z]{{9}}$") for prefix in ("proj", "task", "sess", "evt", "sub")}

DOMAIN = (Project, Task, Subtask, TaskTimelineEvent, Session, SessionTask, SessionEvent, SessionTimelineEvent)


def is_id(prefix: str, value: Any) -> bool:
    return isinstance(value, str) and bool(ID_RE[prefix].match(value))


def head(tenant: Any) -> int:
    return EventStream.objects.filter(tenant=tenant).values_list("last_seq", flat=True).first() or 0


def store_counts() -> dict[str, int]:
    """Row counts of every table a mutation may touch."""
    counts = {m.__name__: m.objects.count() for m in DOMAIN}
    counts.update(AuditEvent=AuditEvent.objects.count(), IntakeEntry=IntakeEntry.objects.count(),
                  Event=Event.objects.count())
    return counts


def domain_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every domain row, so "nothing stored changes" covers edits as well as inserts."""
    return {m.__name__: sorted(map(repr, m.objects.values_list())) for m in DOMAIN}


@dataclass
class Mark:
    tenant: Any
    seq: int
    audit_max: int
    intake_max: int
    counts: dict[str, int]
    state: dict[str, list[Any]]

    def new_events(self) -> list[Event]:
        return list(Event.objects.filter(tenant=self.tenant, seq__gt=self.seq).order_by("seq"))

    def new_types(self) -> list[str]:
        return [e.type for e in self.new_events()]

    def new_audits(self) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(id__gt=self.audit_max).order_by("id"))

    def new_intakes(self) -> list[IntakeEntry]:
        return list(IntakeEntry.objects.filter(pk_id__gt=self.intake_max).order_by("pk_id"))

    def assert_written(self, types: list[str], *, action: str, resource: str | None = None,
                       actor: str = "olivia", actor_type: str = "api", request_id: str | None = None) -> AuditEvent:
        """Exactly one allowed audit row, one intake row, and exactly ``types`` as new events
        with seqs following on from the mark with no gap."""
        audits = self.new_audits()
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
        intakes = self.new_intakes()
        assert [(i.action_type, i.tenant_id, i.actor_id) for i in intakes] == [(action, self.tenant.pk, actor)]
        assert intakes[0].metadata["auditId"] == audit.id
        assert intakes[0].metadata["requestId"] == audit.request_id
        events = self.new_events()
        assert [e.type for e in events] == types
        assert [e.seq for e in events] == list(range(self.seq + 1, self.seq + 1 + len(types)))
        assert head(self.tenant) == self.seq + len(types)
        assert {e.request_id for e in events} == {audit.request_id}
        assert events[0].data["id"] == str(audit.id)
        return audit

    def assert_denied(self, *, policy_id: str = "rbac.requires_operator", actor: str = "victor") -> AuditEvent:
        """A role denial: one ``denied`` audit row (with its intake row and audit event) and no
        domain change."""
        audits = self.new_audits()
        assert [(a.status, a.actor, a.policy_id) for a in audits] == [("denied", actor, policy_id)]
        assert len(self.new_intakes()) == 1
        assert self.new_types() == ["audit:created"]
        assert domain_state() == self.state
        return audits[0]

    def assert_nothing_written(self) -> None:
        assert store_counts() == self.counts
        assert domain_state() == self.state
        assert head(self.tenant) == self.seq


def mark(tenant: Any) -> Mark:
    return Mark(
        tenant=tenant, seq=head(tenant),
        audit_max=AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        intake_max=IntakeEntry.objects.order_by("-pk_id").values_list("pk_id", flat=True).first() or 0,
        counts=store_counts(), state=domain_state(),
    )


def assert_error(response: Any, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code", "message", "details"}
    assert body["error"] is True
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if message is not None:
        assert body["message"] == message
    return body
