"""A signed checkpoint leaves the database as soon as its batch commits: it is written to the
WORM archive, where no database superuser can erase it; a failed upload is retried by the
periodic archive job."""

from __future__ import annotations

import json

import pytest

from ledger.archive import backend_for
from ledger.archiver import tenants_to_archive
from ledger.checkpoint_archive import tenants_with_unarchived_checkpoints
from ledger.hashing import canonical_json
from ledger.jobs import archive_tenant_job
from ledger.models import Checkpoint
from ledger.representations import checkpoint_repr
from tests.ledger.conftest import append, sequence
from tests.support.jobs import celery_eager

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_in_process():
    """The publication job runs where the commit happened, as in the embedded default (with a
    broker a worker runs it)."""
    with celery_eager(True):
        yield

PREFIX = "tenant/default/checkpoints/"


def _archived() -> dict[str, bytes]:
    backend = backend_for()
    return {key: backend.get(key) for key in backend.list(PREFIX)}


def _expected(tenant) -> dict[str, bytes]:
    return {f"{PREFIX}{c.tree_size:012d}.json": canonical_json(checkpoint_repr(c)) + b"\n"
            for c in Checkpoint.objects.filter(tenant_id=tenant.pk)}


def test_each_checkpoint_is_in_the_archive_right_after_its_batch_commits(tenant, django_capture_on_commit_callbacks):
    # given
    append(tenant, 12)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        sequence(tenant, batch_size=5)

    # then: the three signed checkpoints, byte for byte as the API shows them
    archived = _archived()
    assert sorted(archived) == [f"{PREFIX}000000000005.json", f"{PREFIX}000000000010.json",
                                f"{PREFIX}000000000012.json"]
    assert archived == _expected(tenant)
    assert json.loads(archived[f"{PREFIX}000000000012.json"])["treeSize"] == 12
    assert tenant.pk not in tenants_with_unarchived_checkpoints()  # nothing left for the periodic job


def test_nothing_leaves_before_the_batch_commits(tenant, django_capture_on_commit_callbacks):
    # given
    append(tenant, 3)

    # when: the batch's transaction has not committed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sequence(tenant)

    # then
    assert callbacks
    assert _archived() == {}


@pytest.mark.django_db(transaction=True)
def test_a_committed_batch_puts_its_checkpoint_in_the_archive(tenant):
    # given
    append(tenant, 4)

    # when: a real commit, no test transaction around it
    sequence(tenant, batch_size=3)

    # then
    assert _archived() == _expected(tenant)
    assert sorted(_archived()) == [f"{PREFIX}000000000003.json", f"{PREFIX}000000000004.json"]


def test_a_failed_upload_is_retried_by_the_periodic_archive_job(tenant, settings, tmp_path,
                                                                django_capture_on_commit_callbacks):
    # given: the archive is unreachable while the checkpoints are made
    archive = settings.MAESTRO_ARCHIVE_URL
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.MAESTRO_ARCHIVE_URL = (blocker / "archive").as_uri()
    append(tenant, 7)
    with django_capture_on_commit_callbacks(execute=True):
        sequence(tenant, batch_size=5)  # the commit itself succeeds
    settings.MAESTRO_ARCHIVE_URL = archive
    assert _archived() == {}
    assert tenant.pk in tenants_with_unarchived_checkpoints()
    assert tenant.pk in tenants_to_archive()  # what the periodic ledger.archive job enqueues

    # when: the periodic job's run for the tenant
    archive_tenant_job.run(tenant.pk)

    # then
    assert sorted(_archived()) == [f"{PREFIX}000000000005.json", f"{PREFIX}000000000007.json"]
    assert _archived() == _expected(tenant)
    assert tenant.pk not in tenants_with_unarchived_checkpoints()
