"""Intake: what every service mutation and denial calls (through write_path.record)."""

from __future__ import annotations

import pytest

from ledger.hashing import canonical_json, payload_hash
from ledger.models import IntakeEntry, LedgerEntry
from ledger.services import intake_add
from maestro.core.exceptions import ValidationFailed
from maestro.queue import run_deferred_now
from maestro.write_path.services import record_denied
from tests.factories import SYSTEM, make_project
from tests.ledger.conftest import appended

pytestmark = pytest.mark.django_db

GOOD = {"action_type": "task.create", "resource_type": "task", "resource_id": "task_1", "actor_id": "olivia",
        "actor_type": "api", "payload": {"a": 1}, "metadata": {}}


def test_intake_stores_the_canonical_payload_and_its_hash(tenant):
    # when
    row = intake_add(tenant_id=tenant.pk, **{**GOOD, "payload": {"z": [1.0, "é"], "a": None}})

    # then
    assert row.payload_jcs == '{"a":null,"z":[1,"é"]}'
    assert row.payload_hash == payload_hash({"a": None, "z": [1, "é"]})
    assert row.id.version == 7  # time-ordered server ids
    assert IntakeEntry.objects.get(pk_id=row.pk_id).entry_template == row.entry_template


def test_int_resource_ids_are_stored_and_hashed_as_text(tenant):
    row = intake_add(tenant_id=tenant.pk, **{**GOOD, "resource_id": 42, "actor_id": None})
    assert (row.resource_id, row.actor_id) == ("42", "")
    assert '"resourceId":"42"' in row.entry_template


@pytest.mark.parametrize("change, field", [
    ({"actor_type": "robot"}, "actorType"),
    ({"action_type": ""}, "actionType"),
    ({"resource_type": "x" * 101}, "resourceType"),
    ({"actor_id": "a\x00b"}, "actorId"),
    ({"payload": [1]}, "payload"),
    ({"payload": {"n": float("nan")}}, "payload"),
    ({"payload": {"n": float("inf")}}, "payload"),
    ({"payload": {"n": 2**53}}, "payload"),
    ({"payload": {"s": "\ud800"}}, "payload"),
    ({"payload": {1: "non-string key"}}, "payload"),
    ({"payload": {"when": object()}}, "payload"),
    ({"metadata": {"s": "\x00"}}, "metadata"),
    ({"metadata": "x"}, "metadata"),
])
def test_bad_intake_is_refused_with_the_field_and_nothing_stored(tenant, change, field):
    # when
    with pytest.raises(ValidationFailed) as caught:
        intake_add(tenant_id=tenant.pk, **{**GOOD, **change})

    # then
    assert caught.value.details["field"] == field
    assert appended().count() == 0


def test_an_oversized_payload_is_refused(tenant, settings):
    settings.MAESTRO_LEDGER_MAX_PAYLOAD_BYTES = 50
    with pytest.raises(ValidationFailed, match="exceeds the limit of 50"):
        intake_add(tenant_id=tenant.pk, **{**GOOD, "payload": {"blob": "x" * 50}})
    assert appended().count() == 0


def test_a_service_mutation_enqueues_its_entry_in_the_same_transaction(tenant):
    # when
    project = make_project(tenant, name="Ledgered")

    # then
    row = appended().get()
    assert (row.action_type, row.resource_type, row.resource_id, row.actor_id, row.actor_type) == \
        ("project.create", "project", project.id, SYSTEM.name, "system")
    assert row.payload_jcs == canonical_json({"auditId": row.metadata["auditId"], "details": "Created project Ledgered",
                                              "policyId": "", "status": "allowed"}).decode()


def test_a_denied_action_is_ledgered(tenant):
    # when
    record_denied(tenant_id=tenant.pk, actor=SYSTEM, action="project.delete", resource_type="project",
                  resource_id="proj_1", policy_id="policy.freeze", details="frozen")

    # then
    row = appended().get()
    assert (row.action_type, row.resource_id) == ("project.delete", "proj_1")
    assert canonical_json({"auditId": row.metadata["auditId"], "details": "frozen", "policyId": "policy.freeze",
                           "status": "denied"}).decode() == row.payload_jcs


def test_a_rolled_back_mutation_leaves_no_intake_row(tenant):
    # given
    from maestro.write_path.services import record, service

    # when
    with pytest.raises(RuntimeError), service():
        record(tenant_id=tenant.pk, actor=SYSTEM, action="project.update", resource_type="project", resource_id="1")
        raise RuntimeError("boom")

    # then
    assert appended().count() == 0


@pytest.fixture
def eager_celery():
    from maestro.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_the_sequencer_is_poked_after_commit(tenant, eager_celery, django_capture_on_commit_callbacks, settings):
    settings.MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = 600  # runs when the test says so
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        project = make_project(tenant)

    # then: the commit woke the in-process sequencer, whose run sequences the row
    assert len(callbacks) >= 1
    assert LedgerEntry.objects.count() == 0  # not in the committing request
    assert run_deferred_now() == 1
    entry = LedgerEntry.objects.get(tenant=tenant, resource_id=project.id)
    assert entry.action_type == "project.create"
    assert IntakeEntry.objects.filter(tenant=tenant).count() == 0


def test_no_poke_before_commit(tenant, django_capture_on_commit_callbacks):
    # when: callbacks captured but not run (the transaction has not committed)
    with django_capture_on_commit_callbacks(execute=False):
        make_project(tenant)

    # then
    assert LedgerEntry.objects.count() == 0
    assert appended().count() == 1


def test_a_batch_is_appended_at_one_instant_with_distinct_time_ordered_ids(tenant):
    import time
    import uuid

    from ledger.services import entries_append

    # given
    items = [{**GOOD, "resource_id": f"task_{i}"} for i in range(50)]
    before_ms = time.time_ns() // 1_000_000

    # when
    rows = [row for row, _ in entries_append(tenant_id=tenant.pk, items=items, submitted_by=SYSTEM)]

    # then: one instant; fifty different version-7 ids whose time is the append's
    after_ms = time.time_ns() // 1_000_000
    assert len({row.timestamp for row in rows}) == 1
    assert len({row.id for row in rows}) == 50
    assert {(row.id.version, row.id.variant) for row in rows} == {(7, uuid.RFC_4122)}
    assert all(before_ms <= row.id.int >> 80 <= after_ms for row in rows)
    stored = IntakeEntry.objects.filter(id__in=[row.id for row in rows])
    assert sorted(stored.values_list("resource_id", flat=True)) == sorted(f"task_{i}" for i in range(50))


def test_a_prepared_entry_is_the_model_django_would_make_and_reads_back_as_stored(tenant):
    # given: an entry prepared the fast way (no Model.__init__), then stored
    from django.db.models.signals import post_init, pre_init

    from ledger.services import intake_prepare

    row = intake_add(tenant_id=tenant.pk, **GOOD)

    # then: every field as the model made by its constructor, and as read back from the table
    made = IntakeEntry(**{f.attname: getattr(row, f.attname) for f in IntakeEntry._meta.concrete_fields})
    stored = IntakeEntry.objects.get(pk_id=row.pk_id)
    for field in IntakeEntry._meta.concrete_fields:
        assert getattr(row, field.attname) == getattr(made, field.attname) == getattr(stored, field.attname), field
    assert row.tenant == tenant and row.pk == stored.pk and not row._state.adding
    unsaved = intake_prepare(tenant_id=tenant.pk, **GOOD)
    assert unsaved._state.adding and unsaved.pk is None
    # nothing listens for an intake row's construction signals, which this way does not send
    assert not pre_init.has_listeners(IntakeEntry) and not post_init.has_listeners(IntakeEntry)


def test_drawn_ids_are_ordinary_uuid7s():
    import pickle
    import uuid

    from ledger.services import uuid7s

    ids = uuid7s(50)
    for made in ids:
        same = uuid.UUID(str(made))
        assert (made == same, hash(made) == hash(same), made.int == same.int) == (True, True, True)
        assert (made.version, made.variant, made.is_safe) == (7, uuid.RFC_4122, uuid.SafeUUID.unknown)
        assert pickle.loads(pickle.dumps(made)) == made and type(made) is uuid.UUID
    assert len(set(ids)) == 50
