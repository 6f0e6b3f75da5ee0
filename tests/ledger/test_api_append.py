"""POST /api/ledger/entries and entries/batch: receipts, waiting, idempotency, bad input, roles."""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from ledger.hashing import canonical_json
from ledger.models import IntakeEntry, LedgerEntry, VerificationRun
from ledger.services import SERVER_METADATA_KEY as SERVER_KEY
from maestro.write_path.idempotency import idempotency_prune
from maestro.write_path.models import AuditEvent
from tests.ledger.conftest import BODY, URL, appended, hashed_view, postgres_only, settle
from tests.support.api import assert_error

pytestmark = pytest.mark.django_db


def test_post_entry_answers_a_pending_receipt_at_once(api_client, tenant):
    # when
    response = api_client.post(URL + "entries", BODY, format="json")

    # then
    assert response.status_code == 202
    receipt = response.json()
    assert receipt == {"id": receipt["id"], "tenantId": tenant.pk, "status": "pending"}
    row = IntakeEntry.objects.get(id=receipt["id"])
    assert (row.action_type, row.actor_id, row.actor_type, row.metadata) == (
        "deploy.finished", "ci-bot", "job",
        {"pipeline": 17, SERVER_KEY: {"submittedBy": "olivia", "requestId": response["X-Request-ID"]}})
    assert LedgerEntry.objects.count() == 0


def test_the_authenticated_submitter_is_hashed_into_the_entry_whatever_actor_it_names(api_client):
    # when: an operator appends an entry naming another actor
    response = api_client.post(URL + "entries?wait=true", {**BODY, "actorId": "someone-else"}, format="json",
                               HTTP_X_REQUEST_ID="req-submit-1")

    # then: the entry says who really submitted it, under the hash
    entry = response.json()
    assert entry["actorId"] == "someone-else"
    assert entry["metadata"] == {"pipeline": 17, SERVER_KEY: {"submittedBy": "olivia", "requestId": "req-submit-1"}}
    assert hashlib.sha256(canonical_json(hashed_view(entry))).hexdigest() == entry["currentHash"]


# What the old ledger's callers put in metadata themselves.
CLIENT_METADATA = {"requestId": "client-req-9", "traceId": "4bf92f3577b34da6", "correlationId": "corr-1",
                   "submittedBy": "the-old-cli", "pipeline": 17}


def test_a_clients_own_request_trace_and_correlation_ids_are_kept_exactly_as_sent(api_client):
    # when
    single = api_client.post(URL + "entries?wait=true", {**BODY, "metadata": CLIENT_METADATA}, format="json",
                             HTTP_X_REQUEST_ID="req-server-1")
    batch = api_client.post(URL + "entries/batch?wait=true", [{**BODY, "metadata": CLIENT_METADATA}, BODY],
                            format="json", HTTP_X_REQUEST_ID="req-server-2")

    # then: every client key as sent, the server's own facts beside them, all under the hash
    assert (single.status_code, batch.status_code) == (201, 201)
    server = {"submittedBy": "olivia", "requestId": "req-server-1"}
    assert single.json()["metadata"] == {**CLIENT_METADATA, SERVER_KEY: server}
    assert [e["metadata"] for e in batch.json()] == [
        {**CLIENT_METADATA, SERVER_KEY: {**server, "requestId": "req-server-2"}},
        {"pipeline": 17, SERVER_KEY: {**server, "requestId": "req-server-2"}}]
    for entry in [single.json(), *batch.json()]:
        assert hashlib.sha256(canonical_json(hashed_view(entry))).hexdigest() == entry["currentHash"]


def test_a_client_cannot_set_the_servers_own_metadata_key(api_client):
    # when
    single = api_client.post(URL + "entries", {**BODY, "metadata": {SERVER_KEY: {"submittedBy": "me"}}},
                             format="json")
    batch = api_client.post(URL + "entries/batch", [BODY, {**BODY, "metadata": {"a": 1, SERVER_KEY: "me"}}],
                            format="json")

    # then
    assert assert_error(single, 400)["details"] == {"index": 0, "field": f"metadata.{SERVER_KEY}"}
    body = assert_error(batch, 400)
    assert body["details"] == {"index": 1, "field": f"metadata.{SERVER_KEY}"}
    assert body["message"] == f"entries[1]: metadata.{SERVER_KEY} is set by the server"
    assert appended().count() == 0


def test_post_entry_with_wait_returns_the_sequenced_entry_whose_hash_anyone_can_recompute(api_client, tenant):
    # when
    response = api_client.post(URL + "entries?wait=true", BODY, format="json")

    # then
    assert response.status_code == 201
    entry = response.json()
    assert entry["sequenceNumber"] == LedgerEntry.objects.filter(tenant=tenant).count()
    assert entry["payload"] == {"version": "1.4.2", "ok": True}
    assert set(hashed_view(entry)) == {"id", "tenantId", "sequenceNumber", "previousHash", "timestamp", "actionType",
                                        "resourceType", "resourceId", "actorId", "actorType", "payloadHash",
                                        "metadata"}

    assert hashlib.sha256(canonical_json(hashed_view(entry))).hexdigest() == entry["currentHash"]
    assert hashlib.sha256(canonical_json(entry["payload"])).hexdigest() == entry["payloadHash"]


def test_actor_defaults_to_the_caller(api_client):
    # when
    body = {k: v for k, v in BODY.items() if k not in ("actorId", "actorType")}
    entry = api_client.post(URL + "entries?wait=true", body, format="json").json()

    # then
    assert (entry["actorId"], entry["actorType"]) == ("olivia", "api")


def test_posting_an_existing_id_returns_the_first_result(api_client):
    # given
    entry_id = str(uuid.uuid4())
    first = api_client.post(URL + "entries", {**BODY, "id": entry_id}, format="json")

    # when: repeated while pending, and again after sequencing, with another body
    again = api_client.post(URL + "entries", {**BODY, "id": entry_id, "actionType": "other"}, format="json")
    waited = api_client.post(URL + "entries?wait=true", {**BODY, "id": entry_id}, format="json")
    after = api_client.post(URL + "entries", {**BODY, "id": entry_id, "actionType": "other"}, format="json")

    # then
    assert (first.status_code, again.status_code, waited.status_code, after.status_code) == (202, 200, 200, 200)
    assert again.json() == first.json()
    assert waited.json()["actionType"] == "deploy.finished"
    assert after.json()["status"] == "sequenced"
    assert LedgerEntry.objects.filter(id=entry_id).count() == 1
    assert appended().count() == 0


def _height(tenant) -> int:
    """The tenant's chain height once everything appended so far is sequenced."""
    return settle(tenant)


def test_idempotency_key_repeated_with_the_same_body_answers_the_first_result_and_appends_once(api_client, tenant):
    # given
    base = _height(tenant)

    # when
    first = api_client.post(URL + "entries", BODY, format="json", HTTP_IDEMPOTENCY_KEY="deploy-17")
    again = api_client.post(URL + "entries", BODY, format="json", HTTP_IDEMPOTENCY_KEY="deploy-17")
    waited = api_client.post(URL + "entries?wait=true", BODY, format="json", HTTP_IDEMPOTENCY_KEY="deploy-17")
    other = api_client.post(URL + "entries", BODY, format="json", HTTP_IDEMPOTENCY_KEY="deploy-18")

    # then
    assert (first.status_code, again.status_code, waited.status_code, other.status_code) == (202, 200, 200, 202)
    assert again.json() == first.json()
    assert (again["Idempotent-Replayed"], waited["Idempotent-Replayed"]) == ("true", "true")
    assert "Idempotent-Replayed" not in first
    assert waited.json()["id"] == first.json()["id"] != other.json()["id"]
    assert waited.json()["sequenceNumber"] == base + 1
    assert _height(tenant) == base + 2


def test_idempotency_key_repeated_with_the_same_batch_answers_the_first_receipts_and_appends_once(api_client, tenant):
    # given
    base = _height(tenant)
    batch = [BODY, {**BODY, "resourceId": "b"}, {**BODY, "resourceId": "c"}]
    first = api_client.post(URL + "entries/batch", batch, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    _height(tenant)

    # when
    again = api_client.post(URL + "entries/batch", batch, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    # then
    assert (first.status_code, again.status_code) == (202, 200)
    assert [r["id"] for r in again.json()] == [r["id"] for r in first.json()]
    assert [r["sequenceNumber"] for r in again.json()] == [base + 1, base + 2, base + 3]
    assert again["Idempotent-Replayed"] == "true"
    assert _height(tenant) == base + 3


@pytest.mark.parametrize("path, first_body, second_body", [
    ("entries", BODY, {**BODY, "payload": {"x": 1}}),
    ("entries", BODY, {**BODY, "metadata": {"pipeline": 18}}),
    ("entries/batch", [BODY] * 3, [BODY] * 5),
    ("entries/batch", [BODY] * 3, [BODY] * 2),
    ("entries/batch", [BODY] * 3, [BODY, BODY, {**BODY, "resourceId": "other"}]),
])
def test_an_idempotency_key_reused_with_another_body_is_refused_and_appends_nothing(api_client, tenant, path,
                                                                                      first_body, second_body):
    # given
    base = _height(tenant)
    first = api_client.post(URL + path, first_body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    count = len(first_body) if isinstance(first_body, list) else 1
    assert first.status_code == 202
    assert _height(tenant) == base + count

    # when
    reused = api_client.post(URL + path, second_body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    # then
    body = assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    assert body["details"] == {"idempotencyKey": "key-1"}
    assert appended().count() == 0
    assert _height(tenant) == base + count


def test_an_idempotency_key_of_one_entry_reused_for_a_batch_is_refused(api_client, tenant):
    # given
    base = _height(tenant)
    api_client.post(URL + "entries", BODY, format="json", HTTP_IDEMPOTENCY_KEY="key-2")

    # when
    batch = api_client.post(URL + "entries/batch", [BODY], format="json", HTTP_IDEMPOTENCY_KEY="key-2")

    # then
    assert_error(batch, 422, "IDEMPOTENCY_KEY_REUSED")
    assert _height(tenant) == base + 1


def test_an_idempotency_key_sent_with_an_explicit_id_is_not_ignored(api_client, tenant):
    # given
    base = _height(tenant)
    first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())
    first = api_client.post(URL + "entries", {**BODY, "id": first_id}, format="json", HTTP_IDEMPOTENCY_KEY="key-3")

    # when
    other_id = api_client.post(URL + "entries", {**BODY, "id": second_id}, format="json",
                               HTTP_IDEMPOTENCY_KEY="key-3")
    other_batch = api_client.post(URL + "entries/batch", [{**BODY, "id": second_id}], format="json",
                                  HTTP_IDEMPOTENCY_KEY="key-4")
    again_batch = api_client.post(URL + "entries/batch", [{**BODY, "id": str(uuid.uuid4())}], format="json",
                                  HTTP_IDEMPOTENCY_KEY="key-4")
    again = api_client.post(URL + "entries", {**BODY, "id": first_id}, format="json", HTTP_IDEMPOTENCY_KEY="key-3")

    # then
    assert first.status_code == 202 and first.json()["id"] == first_id
    assert_error(other_id, 422, "IDEMPOTENCY_KEY_REUSED")
    assert other_batch.status_code == 202
    assert_error(again_batch, 422, "IDEMPOTENCY_KEY_REUSED")
    assert (again.status_code, again.json()["id"], again["Idempotent-Replayed"]) == (200, first_id, "true")
    assert _height(tenant) == base + 2
    assert set(map(str, LedgerEntry.objects.filter(sequence_number__gt=base).values_list("id", flat=True))) == {
        first_id, second_id}


def test_a_malformed_idempotency_key_is_400_and_appends_nothing(api_client):
    # when
    response = api_client.post(URL + "entries", BODY, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)

    # then
    assert assert_error(response, 400)["details"] == {"header": "Idempotency-Key"}
    assert appended().count() == 0


@pytest.mark.parametrize("path", ["entries", "entries/batch"])
def test_an_id_another_tenant_uses_is_answered_like_a_fresh_one(api_client, other_client, tenant, other_tenant, path):
    # given: the other tenant's entry, and an id nobody uses
    taken, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    theirs = other_client.post(URL + "entries?wait=true", {**BODY, "id": taken}, format="json").json()
    base = _height(tenant)

    def post(entry_id: str):
        body = {**BODY, "id": entry_id}
        return api_client.post(URL + path, [body] if path.endswith("batch") else body, format="json")

    # when
    answers = {"taken": post(taken), "fresh": post(fresh)}

    # then: the same answer either way, and the entry is this tenant's, sequenced like any other
    def shape(response):
        body = response.json()
        receipt = body[0] if isinstance(body, list) else body
        return response.status_code, {**receipt, "id": "<id>"}

    assert shape(answers["taken"]) == shape(answers["fresh"]) == (
        202, {"id": "<id>", "tenantId": tenant.pk, "status": "pending"})
    assert _height(tenant) == base + 2
    ours = api_client.get(URL + f"entries/{taken}").json()
    assert (ours["id"], ours["tenantId"], ours["sequenceNumber"]) == (taken, tenant.pk, base + 1)
    assert other_client.get(URL + f"entries/{taken}").json() == theirs
    assert LedgerEntry.objects.filter(id=taken, tenant=other_tenant).count() == 1
    # a repeat within the tenant is still the first result
    again = post(taken)
    assert again.status_code == 200


@pytest.mark.parametrize("change, field", [
    ({"actorType": "robot"}, "actorType"),
    ({"actionType": ""}, "actionType"),
    ({"actionType": 5}, "actionType"),
    ({"payload": [1, 2]}, "payload"),
    ({"payload": "text"}, "payload"),
    ({"metadata": None}, "metadata"),
    ({"id": "not-a-uuid"}, "id"),
    ({"resourceId": "x" * 201}, "resourceId"),
    ({"colour": "red"}, "colour"),
])
def test_bad_entries_are_400_and_nothing_is_enqueued(api_client, change, field):
    # when
    response = api_client.post(URL + "entries", {**BODY, **change}, format="json")

    # then
    body = assert_error(response, 400)
    assert field in body["message"]
    assert appended().count() == 0


@pytest.mark.parametrize("raw, why", [
    ('{"actionType": "a", "resourceType": "b", "payload": {"n": NaN}}', "NaN"),
    ('{"actionType": "a", "resourceType": "b", "payload": {"n": 9007199254740993}}', "not representable"),
    ('{"actionType": "a", "resourceType": "b", "payload": {"n": 1e400}}', "valid JSON"),
    ('{"actionType": "a", "resourceType": "b", "payload": {"s": "\\ud800"}}', "Surrogate"),
    ('{"actionType": "a", "resourceType": "b", "metadata": {"s": "\\u0000"}}', "Null characters"),
    ('{"actionType": "a", "resourceType": "b", "payload": ', "Malformed JSON"),
])
def test_payloads_that_are_not_canonical_json_are_400(api_client, raw, why):
    # when
    response = api_client.post(URL + "entries", raw, content_type="application/json")

    # then
    assert why in assert_error(response, 400)["message"]
    assert appended().count() == 0


def test_an_oversized_payload_is_400(api_client, settings):
    # given
    settings.MAESTRO_LEDGER_MAX_PAYLOAD_BYTES = 100

    # when
    response = api_client.post(URL + "entries", {**BODY, "payload": {"blob": "x" * 100}}, format="json")

    # then
    body = assert_error(response, 400)
    assert body["details"]["limit"] == 100
    assert appended().count() == 0


def test_batch_is_enqueued_whole(api_client, tenant):
    # when
    response = api_client.post(URL + "entries/batch", [BODY, {**BODY, "resourceId": "b"}], format="json")

    # then
    assert response.status_code == 202
    assert [r["status"] for r in response.json()] == ["pending", "pending"]
    assert appended(tenant=tenant).count() == 2


def test_batch_with_one_bad_entry_is_refused_whole_naming_its_index(api_client):
    # when
    response = api_client.post(URL + "entries/batch", [BODY, BODY, {**BODY, "actorType": "robot"}, BODY],
                               format="json")
    huge = api_client.post(URL + "entries/batch", [BODY, {**BODY, "payload": {"n": 2**53 + 1}}], format="json")

    # then
    assert assert_error(response, 400)["details"]["index"] == 2
    body = assert_error(huge, 400)
    assert (body["details"]["index"], body["details"]["field"]) == (1, "payload")
    assert appended().count() == 0


def test_batch_must_be_a_non_empty_bounded_list(api_client, settings):
    # given
    settings.MAESTRO_LEDGER_MAX_BATCH_ENTRIES = 2

    # when / then
    assert_error(api_client.post(URL + "entries/batch", [], format="json"), 400)
    assert_error(api_client.post(URL + "entries/batch", BODY, format="json"), 400)
    assert_error(api_client.post(URL + "entries/batch", [BODY] * 3, format="json"), 400)
    assert appended().count() == 0


def test_batch_with_repeated_ids_is_refused(api_client):
    entry_id = str(uuid.uuid4())
    response = api_client.post(URL + "entries/batch", [{**BODY, "id": entry_id}, {**BODY, "id": entry_id}],
                               format="json")
    assert assert_error(response, 400)["details"]["index"] == 1
    assert appended().count() == 0


def test_a_viewer_cannot_append_and_the_denial_is_itself_ledgered(viewer_client, tenant):
    # when
    response = viewer_client.post(URL + "entries", BODY, format="json")

    # then
    assert_error(response, 403, "FORBIDDEN")
    denial = AuditEvent.objects.get(status="denied")
    intake = appended().get()
    assert (intake.action_type, intake.actor_id, intake.metadata["auditId"]) == \
        ("POST /api/ledger/entries", "victor", denial.id)


def test_operator_cannot_verify_export_or_archive(api_client):
    # when
    verify = api_client.post(URL + "verify")
    export = api_client.get(URL + "export")
    archive = api_client.post(URL + "archive")

    # then
    for response in (verify, export, archive):
        assert_error(response, 403, "FORBIDDEN")
    assert VerificationRun.objects.count() == 0


def test_an_idempotency_key_the_store_has_forgotten_still_refuses_another_batch(api_client, tenant):
    # given: a 3-entry batch whose key has since been pruned from the store
    base = _height(tenant)
    batch = [BODY, {**BODY, "resourceId": "b"}, {**BODY, "resourceId": "c"}]
    first = api_client.post(URL + "entries/batch", batch, format="json", HTTP_IDEMPOTENCY_KEY="old-key")
    assert idempotency_prune(now=timezone.now() + timedelta(days=30)) >= 1
    _height(tenant)

    # when
    longer = api_client.post(URL + "entries/batch", [*batch, BODY, BODY], format="json",
                             HTTP_IDEMPOTENCY_KEY="old-key")
    retried = api_client.post(URL + "entries/batch", batch, format="json", HTTP_IDEMPOTENCY_KEY="old-key")

    # then: the longer batch is refused whole; the same batch is still answered by its entries
    assert_error(longer, 422, "IDEMPOTENCY_KEY_REUSED")
    assert (retried.status_code, retried["Idempotent-Replayed"]) == (200, "true")
    assert [r["id"] for r in retried.json()] == [r["id"] for r in first.json()]
    assert _height(tenant) == base + 3


RACERS = 4


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_key_append_one_request(operator_token, tenant):
    # given: four clients retrying one 5-entry batch, and one sending a 3-entry batch, all with one key
    barrier = threading.Barrier(RACERS + 1)
    answers: list[tuple[int, int, object]] = []
    five, three = [BODY] * 5, [{**BODY, "resourceId": "x"}] * 3

    def post(body: list) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {operator_token}")
        try:
            barrier.wait(timeout=20)
            r = client.post(URL + "entries/batch", body, format="json", HTTP_IDEMPOTENCY_KEY="race")
            answers.append((len(body), r.status_code, r.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(five,)) for _ in range(RACERS)]
    threads.append(threading.Thread(target=post, args=(three,)))

    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # then: one request was carried out; its retries got its receipts, the other body a 422
    assert len(answers) == RACERS + 1
    (size, _, receipts), = [a for a in answers if a[1] == 202]
    stored = appended(tenant=tenant)
    assert sorted(str(i) for i in stored.values_list("id", flat=True)) == sorted(r["id"] for r in receipts)
    assert len(receipts) == size
    for length, status, body in answers:
        if length == size and status != 202:
            assert (status, [r["id"] for r in body]) == (200, [r["id"] for r in receipts])
        elif length != size:
            assert (status, body["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
