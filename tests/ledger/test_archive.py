from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ledger.archive import ArchiveConflict, ArchiveError, FileBackend, S3Backend, backend_for, manifest_key
from ledger.archive_verify import verify_archive
from ledger.archiver import ArchiveRefused, archive_tenant
from ledger.models import ArchiveSegment, LedgerEntry, LedgerPayload
from ledger.verify import verify_chain
from tests.ledger.conftest import append, sequence, triggers_bypassed

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed(settings):
    """Segments of at most 10 entries; partial ones seal only when forced."""
    settings.MAESTRO_ARCHIVE_SEGMENT_MAX = 10
    settings.MAESTRO_ARCHIVE_SEAL_AGE_SECONDS = 3600


@pytest.fixture
def ledger25(tenant, sealed):
    append(tenant, 25)
    sequence(tenant, batch_size=10)  # checkpoints at 10, 20, 25
    return tenant


# ---- file:// --------------------------------------------------------------------------------

def test_file_backend_writes_read_only_objects_once(tmp_path):
    # given
    backend = backend_for((tmp_path / "a").as_uri())

    # when
    backend.put("tenant/x/segments/1.jsonl", b"first")
    backend.put("tenant/x/segments/1.jsonl", b"first")  # identical retry: fine
    with pytest.raises(ArchiveConflict):
        backend.put("tenant/x/segments/1.jsonl", b"second")

    # then
    path = tmp_path / "a" / "tenant/x/segments/1.jsonl"
    assert path.read_bytes() == b"first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert backend.list("tenant/x/") == ["tenant/x/segments/1.jsonl"]  # no temp files left behind
    assert isinstance(backend, FileBackend)


def test_file_backend_refuses_keys_outside_its_root(tmp_path):
    with pytest.raises(ArchiveError, match="escapes"):
        backend_for(tmp_path.as_uri()).put("../evil", b"x")


def test_unknown_archive_schemes_are_refused():
    with pytest.raises(ArchiveError, match="unsupported"):
        backend_for("ftp://example.com/x")


def test_archiver_seals_full_segments_and_forced_tails(ledger25, archive_url):
    # when: only full segments are sealed, then the tail when forced
    first = archive_tenant(tenant_id=ledger25.pk)
    tail = archive_tenant(tenant_id=ledger25.pk, force=True)
    again = archive_tenant(tenant_id=ledger25.pk, force=True)

    # then
    segments = list(ArchiveSegment.objects.filter(tenant_id=ledger25.pk).order_by("first_sequence"))
    assert [(s.first_sequence, s.last_sequence) for s in segments] == [(1, 10), (11, 20), (21, 25)]
    assert [s.last_sequence for s in first] == [10, 20] and [s.last_sequence for s in tail] == [25]
    assert again == []
    root = Path(archive_url.removeprefix("file://"))
    for s in segments:
        data = (root / s.key).read_bytes()
        assert s.key == f"tenant/default/segments/{s.first_sequence:012d}-{s.last_sequence:012d}.jsonl"
        assert hashlib.sha256(data).hexdigest() == s.sha256
        manifest = json.loads((root / manifest_key(s.key)).read_bytes())
        assert (manifest["sha256"], manifest["firstSequence"], manifest["lastSequence"]) == \
            (s.sha256, s.first_sequence, s.last_sequence)
        assert manifest["checkpoint"]["treeSize"] == s.last_sequence


def test_archived_payloads_are_pruned_yet_served_and_still_verify(ledger25, archive_url, admin_client):
    # given
    entry = LedgerEntry.objects.get(tenant_id=ledger25.pk, sequence_number=4)
    expected = admin_client.get(f"/api/ledger/entries/{entry.id}").json()

    # when
    archive_tenant(tenant_id=ledger25.pk)

    # then: payloads of 1..20 left the hot store, the API still answers the same, verify passes
    hot = set(LedgerPayload.objects.filter(tenant_id=ledger25.pk).values_list("payload_hash", flat=True))
    archived = set(LedgerEntry.objects.filter(tenant_id=ledger25.pk, sequence_number__lte=20)
                   .values_list("payload_hash", flat=True))
    assert hot.isdisjoint(archived)
    assert admin_client.get(f"/api/ledger/entries/{entry.id}").json() == expected
    assert verify_chain(tenant_id=ledger25.pk)["valid"] is True


def test_a_payload_still_used_after_the_segment_is_kept_hot(tenant, sealed, archive_url):
    # given: entry 2 and entry 12 carry the same payload
    append(tenant, 10, payload={"same": True})
    append(tenant, 2, payload={"same": True})
    sequence(tenant, batch_size=10)

    # when
    archive_tenant(tenant_id=tenant.pk)

    # then
    assert LedgerPayload.objects.filter(tenant_id=tenant.pk).count() == 1
    assert verify_chain(tenant_id=tenant.pk)["valid"] is True


def test_the_archive_verifies_against_the_checkpoints(ledger25, archive_url):
    # given
    archive_tenant(tenant_id=ledger25.pk, force=True)

    # when
    report = verify_archive(tenant_id=ledger25.pk, slug=ledger25.slug)

    # then
    assert (report["valid"], report["totalEntries"], report["segments"], report["errors"]) == (True, 25, 3, [])


def test_an_altered_archived_segment_is_named_by_its_first_bad_sequence(ledger25, archive_url):
    # given: entry 14's actor rewritten inside the sealed file (as root, despite mode 0444)
    archive_tenant(tenant_id=ledger25.pk)
    segment = ArchiveSegment.objects.get(tenant_id=ledger25.pk, first_sequence=11)
    path = Path(archive_url.removeprefix("file://")) / segment.key
    lines = path.read_bytes().split(b"\n")
    line = json.loads(lines[4])
    assert line["entry"]["sequenceNumber"] == 14
    line["entry"]["actorId"] = "mallory"
    lines[4] = json.dumps(line, separators=(",", ":")).encode()
    os.chmod(path, 0o644)
    path.write_bytes(b"\n".join(lines))

    # when
    report = verify_archive(tenant_id=ledger25.pk, slug=ledger25.slug)

    # then
    assert report["valid"] is False
    assert report["errors"][0]["sequenceNumber"] == 14
    assert {e["error"] for e in report["errors"]} >= {
        "currentHash does not match the entry's content", f"{segment.key}: SHA-256 differs from its manifest"}
    # and the database copy, whose payloads now live only in the archive, still verifies
    assert verify_chain(tenant_id=ledger25.pk)["valid"] is True


def test_an_altered_archived_payload_is_found_by_both_verifiers(ledger25, archive_url):
    # given: the archived payload of entry 3 changed (its hot copy was pruned)
    archive_tenant(tenant_id=ledger25.pk)
    segment = ArchiveSegment.objects.get(tenant_id=ledger25.pk, first_sequence=1)
    path = Path(archive_url.removeprefix("file://")) / segment.key
    lines = path.read_bytes().split(b"\n")
    line = json.loads(lines[3])
    line["payload"]["i"] = 1000
    lines[3] = json.dumps(line, separators=(",", ":")).encode()
    os.chmod(path, 0o644)
    path.write_bytes(b"\n".join(lines))

    # when
    from ledger.selectors import _read_segment

    _read_segment.cache_clear()
    archive_report = verify_archive(tenant_id=ledger25.pk, slug=ledger25.slug)
    chain_report = verify_chain(tenant_id=ledger25.pk)

    # then
    assert archive_report["errors"][0]["sequenceNumber"] == 3
    assert chain_report["errors"][0] == {"sequenceNumber": 3, "severity": "critical",
                                         "error": "payloadHash does not match the stored payload"}


def test_a_missing_segment_is_reported(ledger25, archive_url):
    archive_tenant(tenant_id=ledger25.pk)
    segment = ArchiveSegment.objects.get(tenant_id=ledger25.pk, first_sequence=11)
    (Path(archive_url.removeprefix("file://")) / segment.key).unlink()
    report = verify_archive(tenant_id=ledger25.pk, slug=ledger25.slug)
    assert report["valid"] is False
    assert report["errors"][0]["sequenceNumber"] == 11


def test_the_archiver_refuses_to_seal_a_tampered_range(ledger25, archive_url):
    # given
    with triggers_bypassed():
        LedgerEntry.objects.filter(tenant_id=ledger25.pk, sequence_number=15).update(action_type="forged")

    # when
    with pytest.raises(ArchiveRefused) as refused:
        archive_tenant(tenant_id=ledger25.pk)

    # then: the clean first segment went out, the tampered one did not
    assert refused.value.report["errors"][0]["sequenceNumber"] == 15
    assert list(ArchiveSegment.objects.values_list("last_sequence", flat=True)) == [10]
    assert backend_for().list("tenant/default/segments/") == [
        "tenant/default/segments/000000000001-000000000010.jsonl",
        "tenant/default/segments/000000000001-000000000010.manifest.json"]


def test_the_archive_job_retries_until_done(ledger25, settings, tmp_path):
    # given: the archive is unreachable at first
    from ledger.jobs import archive_tenant_job
    from ledger.metrics import ARCHIVE_FAILURES

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.MAESTRO_ARCHIVE_URL = (blocker / "archive").as_uri()
    failures = ARCHIVE_FAILURES._value.get()

    # when
    with pytest.raises(Exception):  # noqa: B017 (outside a worker, retry re-raises the cause)
        archive_tenant_job.run(ledger25.pk)
    settings.MAESTRO_ARCHIVE_URL = (tmp_path / "archive").as_uri()
    done = archive_tenant_job.run(ledger25.pk)

    # then
    assert ARCHIVE_FAILURES._value.get() == failures + 1
    assert done == 2
    assert ArchiveSegment.objects.count() == 2


# ---- s3:// (moto server, Object Lock) ---------------------------------------------------------

@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_archive(s3_server, settings, request):
    import boto3

    bucket = f"ledger-{request.node.name[-20:].lower().replace('_', '-')}".strip("-")
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    settings.MAESTRO_ARCHIVE_S3_ENDPOINT_URL = s3_server
    settings.MAESTRO_ARCHIVE_URL = f"s3://{bucket}/maestro"
    return client, bucket


def test_s3_objects_are_locked_in_compliance_mode_and_written_once(s3_archive):
    # given
    client, bucket = s3_archive
    backend = backend_for()

    # when
    backend.put("tenant/x/a.jsonl", b"first")
    backend.put("tenant/x/a.jsonl", b"first")
    with pytest.raises(ArchiveConflict):
        backend.put("tenant/x/a.jsonl", b"second")

    # then
    head = client.head_object(Bucket=bucket, Key="maestro/tenant/x/a.jsonl")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"first").hexdigest()
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket=bucket, Key="maestro/tenant/x/a.jsonl", VersionId=head["VersionId"])
    assert backend.get("tenant/x/a.jsonl") == b"first"
    assert backend.list("tenant/x/") == ["tenant/x/a.jsonl"]
    assert isinstance(backend, S3Backend)


def test_s3_without_object_lock_is_refused(s3_server, settings):
    import boto3

    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="no-lock")
    settings.MAESTRO_ARCHIVE_S3_ENDPOINT_URL = s3_server
    with pytest.raises(ArchiveError, match="Object Lock"):
        backend_for("s3://no-lock/x").put("k", b"x")


def test_archive_to_s3_serves_pruned_payloads_and_verifies(ledger25, s3_archive, admin_client):
    # given
    entry = LedgerEntry.objects.get(tenant_id=ledger25.pk, sequence_number=7)
    expected = admin_client.get(f"/api/ledger/entries/{entry.id}").json()

    # when
    segments = archive_tenant(tenant_id=ledger25.pk, force=True)

    # then
    assert [s.url for s in segments] == [f"s3://{s3_archive[1]}/maestro"] * 3
    assert admin_client.get(f"/api/ledger/entries/{entry.id}").json() == expected
    assert verify_chain(tenant_id=ledger25.pk)["valid"] is True
    assert verify_archive(tenant_id=ledger25.pk, slug=ledger25.slug)["valid"] is True


# ---- management commands ----------------------------------------------------------------------

def test_commands_archive_and_verify(ledger25, archive_url, capsys):
    # when
    call_command("ledger_archive", "--tenant", "default", "--force")
    call_command("ledger_verify", "--tenant", "default")
    call_command("ledger_verify_archive", "--tenant", "default")

    # then
    out = capsys.readouterr().out
    assert "default: wrote 3 signed checkpoint(s) to the archive" in out  # 10, 20, 25
    assert "default: archived 1..10" in out and "default: archived 21..25" in out
    assert out.count("default: valid, 25 entries") == 2


def test_ledger_verify_exits_nonzero_naming_the_first_bad_sequence(ledger25, capsys):
    # given
    with triggers_bypassed():
        LedgerEntry.objects.filter(tenant_id=ledger25.pk, sequence_number=6).update(resource_id="x")

    # when
    with pytest.raises(CommandError, match="failed for: default"):
        call_command("ledger_verify")

    # then
    assert "default: INVALID, first bad sequence 6" in capsys.readouterr().err


def test_ledger_verify_archive_exits_nonzero_on_an_altered_segment(ledger25, archive_url, capsys):
    archive_tenant(tenant_id=ledger25.pk)
    path = Path(archive_url.removeprefix("file://")) / "tenant/default/segments/000000000011-000000000020.jsonl"
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes().replace(b'"task_16"', b'"task_61"'))
    with pytest.raises(CommandError):
        call_command("ledger_verify_archive", "--tenant", "default")
    assert "first bad sequence 17" in capsys.readouterr().err


def test_commands_refuse_tenants_without_a_ledger():
    with pytest.raises(CommandError, match="no ledger for tenant"):
        call_command("ledger_verify", "--tenant", "nope")

