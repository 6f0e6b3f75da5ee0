"""Creates that race on one unique key, on PostgreSQL with real threads (each its own
connection): whichever of the check and the unique constraint catches the loser, exactly one
row is created, the losers get the documented answer, and the audit log, the ledger intake and
the event log hold exactly one accepted change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection

from ledger.models import IntakeEntry, LedgerEntry
from maestro.core.exceptions import Conflict
from maestro.write_path.models import AuditEvent
from orchestration.control.models.loops import AutonomicLoop
from orchestration.runs.models import Run
from orchestration.work.models import Session
from realtime.models import Event
from tests.factories import SYSTEM, make_project
from tests.support.race import race as race_each

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

RACERS = 4
ROUNDS = 8


def race(fn: Callable[[], Any]) -> list[tuple[str, Any]]:
    """``fn`` in RACERS threads released together (tests.support.race)."""
    return race_each(lambda _i: fn(), RACERS)


def ledgered(**filters: Any) -> int:
    """Rows in the ledger, waiting or sequenced (the embedded default sequences on commit)."""
    return IntakeEntry.objects.filter(**filters).count() + LedgerEntry.objects.filter(**filters).count()


def test_racing_loop_creates_with_one_id(tenant):
    from orchestration.control.services.loops import loop_create

    for n in range(ROUNDS):
        # when
        slug = f"loop-race-{n}"
        results = race(partial(loop_create, tenant=tenant, actor=SYSTEM, loop_id=slug, name="Race", type="cost"))

        # then: one created, the others a 409 naming the policy, each refusal audited as denied
        ok = [r for kind, r in results if kind == "ok"]
        errors = [r for kind, r in results if kind == "error"]
        assert len(ok) == 1, results
        assert all(isinstance(e, Conflict) and e.details == {"id": slug, "policy": "unique_id"} for e in errors), errors
        assert AutonomicLoop.objects.filter(tenant=tenant, slug=slug).count() == 1
        audit = AuditEvent.objects.filter(action="loop.create", resource=slug)
        assert (audit.filter(status="allowed").count(), audit.filter(status="denied", policy_id="unique_id").count()) \
            == (1, RACERS - 1)
        assert Event.objects.filter(tenant=tenant, type="loop:created", data__id=slug).count() == 1
        assert ledgered(action_type="loop.create", resource_id=slug) == RACERS


def test_racing_session_creates_with_one_client_id(tenant):
    from orchestration.work.services.sessions import session_create

    project = make_project(tenant)
    for n in range(ROUNDS):
        # when
        session_id = f"sess_race_{n}"
        results = race(partial(session_create, tenant=tenant, actor=SYSTEM, project=project, task_ids=[],
                               session_id=session_id))

        # then
        ok = [r for kind, r in results if kind == "ok"]
        errors = [r for kind, r in results if kind == "error"]
        assert len(ok) == 1, results
        assert all(isinstance(e, Conflict) and e.details["id"] == session_id for e in errors), errors
        assert Session.objects.filter(id=session_id).count() == 1
        assert AuditEvent.objects.filter(action="session.create", resource=session_id, status="allowed").count() == 1
        assert Event.objects.filter(tenant=tenant, type="session:created", data__id=session_id).count() == 1


def test_racing_runs_with_one_idempotency_key(tenant):
    from orchestration.runs.services import run_create

    for n in range(ROUNDS):
        # when
        key = f"key-{n}"
        results = race(partial(run_create, tenant=tenant, actor=SYSTEM, pipeline="deploy", idempotency_key=key))

        # then: every racer gets the one run; exactly one of them created it
        assert all(kind == "ok" for kind, _ in results), results
        assert len({run.id for _, (run, _created) in results}) == 1
        assert sum(created for _, (_run, created) in results) == 1
        assert Run.objects.filter(tenant=tenant, idempotency_key=key).count() == 1
        run_id = results[0][1][0].id
        assert AuditEvent.objects.filter(action="run.create", resource=run_id).count() == 1


def test_racing_ledger_appends_with_one_entry_id(tenant):
    from ledger.services import entries_append

    for _ in range(ROUNDS):
        # when
        entry_id = uuid.uuid4()
        item = {"id": entry_id, "action_type": "deploy.finished", "resource_type": "pipeline",
                "resource_id": "p1", "actor_id": "ci", "actor_type": "job", "payload": {"ok": True}, "metadata": {}}
        results = race(partial(entries_append, tenant_id=tenant.pk, items=[item], submitted_by=SYSTEM))

        # then: one intake row; every racer answers with it, one as its creator
        assert all(kind == "ok" for kind, _ in results), results
        assert {rows[0][0].id for _, rows in results} == {entry_id}
        assert sum(rows[0][1] for _, rows in results) == 1
        assert ledgered(id=entry_id) == 1
