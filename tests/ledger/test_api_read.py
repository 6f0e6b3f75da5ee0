"""Reading /api/ledger/: lists, entries, proofs, checkpoints, verify, export, archive."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import merkle
from ledger.hashing import canonical_json, entry_hash
from ledger.models import LedgerEntry, VerificationRun
from maestro.write_path.models import AuditEvent
from tests.ledger.conftest import BODY, URL, append, hashed_view, sequence, settle
from tests.support.api import assert_error

pytestmark = pytest.mark.django_db


def test_another_tenants_entry_is_not_found(api_client, other_client):
    # given
    theirs = other_client.post(URL + "entries?wait=true", BODY, format="json").json()

    # when
    detail = api_client.get(URL + f"entries/{theirs['id']}")
    proof = api_client.get(URL + f"entries/{theirs['id']}/proof")
    listed = api_client.get(URL + "entries")

    # then
    assert_error(detail, 404, "LEDGER_ENTRY_NOT_FOUND")
    assert_error(proof, 404, "LEDGER_ENTRY_NOT_FOUND")
    assert listed.json() == []
    assert_error(api_client.get(URL + "entries/not-a-uuid"), 404, "LEDGER_ENTRY_NOT_FOUND")


def test_anonymous_requests_are_401_except_the_public_key(anon_client):
    assert_error(anon_client.get(URL + "entries"), 401, "UNAUTHORIZED")
    response = anon_client.get(URL + "public-key")
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "Ed25519"
    assert len(base64.b64decode(body["publicKey"])) == 32


def test_list_filters_orders_and_pages_with_a_link_header(api_client, tenant):
    # given: entries 1..5 "a", 6..8 "b" (after what the fixtures ledgered)
    base = settle(tenant)
    append(tenant, 5, action="a")
    append(tenant, 3, action="b", resource_id="r-9")
    sequence(tenant)

    # when
    first = api_client.get(URL + f"entries?limit=3&fromSequence={base + 1}")
    following = api_client.get(first["Link"].split(";")[0].strip("<>"))
    desc = api_client.get(URL + "entries?order=desc&limit=2")
    filtered = api_client.get(URL + f"entries?actionType=b&fromSequence={base + 7}")
    ranged = api_client.get(URL + f"entries?fromSequence={base + 2}&toSequence={base + 4}")
    by_resource = api_client.get(URL + "entries?resourceType=task&resourceId=r-9")

    # then
    def seqs(response):
        return [e["sequenceNumber"] - base for e in response.json()]

    assert seqs(first) == [1, 2, 3]
    assert seqs(following) == [4, 5, 6]
    assert seqs(desc) == [8, 7]
    assert seqs(filtered) == [7, 8]
    assert seqs(ranged) == [2, 3, 4]
    assert seqs(by_resource) == [6, 7, 8]
    assert first.json()[0]["payload"] == {"i": 0, "note": "ünïcode ✓"}


@pytest.mark.parametrize("query", ["order=sideways", "fromSequence=x", "fromSequence=0", "limit=0", "cursor=%%%"])
def test_bad_list_parameters_are_400(api_client, query):
    assert_error(api_client.get(URL + "entries?" + query), 400)


@pytest.mark.parametrize("path", ["entries", "checkpoints"])
@pytest.mark.parametrize("value", ["sideways", "", "ASCENDING", "Asc", "1"])
def test_a_bad_order_is_400_naming_the_field(api_client, path, value):
    body = assert_error(api_client.get(URL + f"{path}?order={value}"), 400)
    assert "order" in body["message"]
    assert body["details"] == {"order": value}


def test_order_is_accepted_as_the_old_api_wrote_it_and_in_lowercase(api_client, tenant):
    # given: three entries, three checkpoints (after what the fixtures ledgered)
    base = settle(tenant)
    for _ in range(3):
        append(tenant)
        sequence(tenant)

    # when
    entries = {order: api_client.get(URL + f"entries?order={order}&fromSequence={base + 1}")
               for order in ("ASC", "DESC", "asc", "desc")}
    checkpoints = {order: api_client.get(URL + f"checkpoints?order={order}&limit=3")
                   for order in ("ASC", "DESC", "asc", "desc")}

    # then
    def seqs(response):
        return [e["sequenceNumber"] - base for e in response.json()]

    assert {order: seqs(r) for order, r in entries.items()} == {
        "ASC": [1, 2, 3], "DESC": [3, 2, 1], "asc": [1, 2, 3], "desc": [3, 2, 1]}
    sizes = {order: [c["treeSize"] for c in r.json()] for order, r in checkpoints.items()}
    assert sizes["DESC"] == sizes["desc"] == [base + 3, base + 2, base + 1]
    assert sizes["ASC"] == sizes["asc"] == sorted(sizes["ASC"])
    assert len(sizes["ASC"]) == 3


def test_entry_detail_includes_the_payload(api_client):
    created = api_client.post(URL + "entries?wait=true", BODY, format="json").json()
    detail = api_client.get(URL + f"entries/{created['id']}")
    assert detail.status_code == 200
    assert detail.json() == created


def test_inclusion_proof_verifies_against_the_signed_checkpoint(api_client, tenant):
    # given: checkpoints at base + 4 and base + 6
    base = settle(tenant)
    append(tenant, 6)
    sequence(tenant, batch_size=4)
    entry = LedgerEntry.objects.get(tenant=tenant, sequence_number=base + 3)

    # when
    proof = api_client.get(URL + f"entries/{entry.id}/proof").json()
    older = api_client.get(URL + f"entries/{entry.id}/proof?treeSize={base + 4}").json()
    key = api_client.get(URL + "public-key").json()["publicKey"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key))

    # then
    for p, size in ((proof, base + 6), (older, base + 4)):
        assert (p["leafIndex"], p["treeSize"]) == (base + 2, size)
        checkpoint = p["checkpoint"]
        assert checkpoint["rootHash"] == p["rootHash"]
        public.verify(base64.b64decode(checkpoint["signature"]),
                      canonical_json({k: checkpoint[k] for k in ("tenantId", "treeSize", "rootHash", "timestamp")}))
        assert merkle.verify_inclusion(base + 2, size, merkle.entry_leaf_hash(entry.current_hash),
                                       [bytes.fromhex(h) for h in p["auditPath"]], bytes.fromhex(p["rootHash"]))


@pytest.mark.parametrize("size", ["-1", "+1", "x"])
def test_proof_for_an_impossible_tree_size_is_400(api_client, tenant, size):
    # given: the entry is at the head; a tree must include it and cannot outgrow the log
    append(tenant, 1)
    height = settle(tenant)
    entry = LedgerEntry.objects.get(tenant=tenant, sequence_number=height)
    tree_size = {"-1": height - 1, "+1": height + 1, "x": "x"}[size]

    # when / then
    assert_error(api_client.get(URL + f"entries/{entry.id}/proof?treeSize={tree_size}"), 400)


def test_consistency_proof_verifies_between_checkpoints(api_client, tenant):
    # given
    base = settle(tenant)
    append(tenant, 11)
    sequence(tenant, batch_size=4)  # checkpoints at base + 4, 8, 11
    checkpoints = {c["treeSize"] - base: c for c in api_client.get(URL + "checkpoints").json()}

    # when
    proof = api_client.get(URL + f"consistency?first={base + 4}&second={base + 11}").json()

    # then
    assert [k for k in sorted(checkpoints) if k > 0] == [4, 8, 11]
    assert (proof["firstRoot"], proof["secondRoot"]) == (checkpoints[4]["rootHash"], checkpoints[11]["rootHash"])
    assert merkle.verify_consistency(base + 4, base + 11, bytes.fromhex(proof["firstRoot"]),
                                     bytes.fromhex(proof["secondRoot"]), [bytes.fromhex(h) for h in proof["proof"]])


@pytest.mark.parametrize("query", ["first=5&second=3", "second=3", "first=1&second=99", "first=a&second=3"])
def test_bad_consistency_parameters_are_400(api_client, tenant, query):
    append(tenant, 4)
    sequence(tenant)
    assert_error(api_client.get(URL + "consistency?" + query), 400)


def test_consistency_of_an_empty_ledger_is_400_not_a_server_error(api_client, tenant):
    # given: a tenant whose ledger has no entries yet (schemathesis found a 500 here)
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 0

    # when
    response = api_client.get(URL + "consistency?first=0")

    # then: the whole tree (the default second) is too small to prove anything
    assert_error(response, 400, "VALIDATION_ERROR", "second must be between 1 and the tree size 0")


def test_checkpoints_are_listed_newest_first_and_paged(api_client, tenant):
    base = settle(tenant)
    append(tenant, 5)
    sequence(tenant, batch_size=2)
    first = api_client.get(URL + "checkpoints?limit=2")
    rest = api_client.get(first["Link"].split(";")[0].strip("<>") + "&limit=2")
    assert [c["treeSize"] - base for c in first.json()] == [5, 4]
    assert [c["treeSize"] - base for c in rest.json()] == [2, 0]


def test_admin_verify_reports_the_whole_chain(admin_client, tenant):
    # given
    base = settle(tenant)
    append(tenant, 3)
    sequence(tenant)

    # when
    response = admin_client.post(URL + "verify")

    # then
    assert response.status_code == 200
    report = response.json()
    assert {k: report[k] for k in ("valid", "totalEntries", "brokenChains", "invalidHashes", "missingEntries",
                                   "lastVerifiedSequence", "errors")} == {
        "valid": True, "totalEntries": base + 3, "brokenChains": 0, "invalidHashes": 0, "missingEntries": 0,
        "lastVerifiedSequence": base + 3, "errors": []}
    assert VerificationRun.objects.get().valid is True


def test_admin_exports_json_and_csv_that_rehash(admin_client, tenant):
    # given
    base = settle(tenant)
    append(tenant, 3)
    sequence(tenant)

    # when
    as_json = admin_client.get(URL + f"export?format=json&fromSequence={base + 1}")
    as_csv = admin_client.get(URL + f"export?format=csv&fromSequence={base + 2}")

    # then

    entries = json.loads(b"".join(as_json.streaming_content))
    assert [e["sequenceNumber"] - base for e in entries] == [1, 2, 3]
    assert all(entry_hash(**_snake(hashed_view(e))) == e["currentHash"] for e in entries)
    rows = list(csv.DictReader(io.StringIO(b"".join(as_csv.streaming_content).decode())))
    assert [int(r["sequenceNumber"]) - base for r in rows] == [2, 3]
    assert rows[0]["currentHash"] == entries[1]["currentHash"]
    assert json.loads(rows[0]["payload"]) == entries[1]["payload"]
    assert as_csv["Content-Type"] == "text/csv"
    assert_error(admin_client.get(URL + "export?format=xml"), 400)


def _snake(body: dict) -> dict:
    names = {"id": "id", "tenantId": "tenant_id", "sequenceNumber": "sequence_number",
             "previousHash": "previous_hash", "timestamp": "timestamp", "actionType": "action_type",
             "resourceType": "resource_type", "resourceId": "resource_id", "actorId": "actor_id",
             "actorType": "actor_type", "payloadHash": "payload_hash", "metadata": "metadata"}
    return {names[k]: v for k, v in body.items()}


def test_a_project_created_through_the_api_becomes_a_sequenced_entry(api_client, tenant):
    # when
    project = api_client.post("/api/projects", {"name": "Ledgered"}, format="json").json()
    sequence(tenant)

    # then
    entry = LedgerEntry.objects.get(tenant=tenant, action_type="project.create")
    audit = AuditEvent.objects.get(action="project.create")
    assert (entry.resource_type, entry.resource_id, entry.actor_id, entry.actor_type) == \
        ("project", project["id"], "olivia", "api")
    assert entry.metadata["auditId"] == audit.id
    listed = api_client.get(URL + "entries?resourceType=project").json()
    assert [e["resourceId"] for e in listed] == [project["id"]]


def test_admin_archives_on_demand_and_lists_segments(admin_client, tenant, archive_url):
    # given
    append(tenant, 3)
    height = settle(tenant)

    # when
    response = admin_client.post(URL + "archive?force=true")
    segments = admin_client.get(URL + "segments")

    # then
    assert response.status_code == 200
    assert [(s["firstSequence"], s["lastSequence"]) for s in response.json()["archived"]] == [(1, height)]
    assert [(s["firstSequence"], s["lastSequence"], s["payloadsPruned"]) for s in segments.json()] == \
        [(1, height, True)]


def test_archiving_a_tampered_range_is_a_conflict_and_an_unreachable_archive_a_503(admin_client, tenant, settings,
                                                                                    tmp_path):
    # given
    from tests.ledger.conftest import triggers_bypassed

    append(tenant, 3)
    settle(tenant)
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings.MAESTRO_ARCHIVE_URL = (blocker / "archive").as_uri()

    # when / then
    assert_error(admin_client.post(URL + "archive?force=true"), 503, "ARCHIVE_UNAVAILABLE")
    with triggers_bypassed():
        LedgerEntry.objects.filter(tenant=tenant, sequence_number=2).update(actor_id="mallory")
    body = assert_error(admin_client.post(URL + "archive?force=true"), 409, "CONFLICT")
    assert body["details"]["firstBadSequence"] == 2


def test_a_pending_entry_answers_its_receipt(api_client, other_client, tenant):
    # given
    receipt = api_client.post(URL + "entries", BODY, format="json").json()

    # when
    mine = api_client.get(URL + f"entries/{receipt['id']}")
    theirs = other_client.get(URL + f"entries/{receipt['id']}")

    # then
    assert (mine.status_code, mine.json()) == (202, receipt)
    assert_error(theirs, 404, "LEDGER_ENTRY_NOT_FOUND")
