"""Signed checkpoints leave the database as soon as they are made (issue #9).

When a sequencer batch commits, a job enqueued on commit writes its checkpoint to the WORM
archive (:func:`ledger.archive.checkpoint_key`), where a database superuser who rewrites entries and
empties the checkpoint and Merkle tables cannot reach it; ``ledger_verify`` compares the
database against these objects (:func:`archived_checkpoints`).

:class:`CheckpointArchiveMark` records how far a tenant's checkpoints are in the archive. Every
publication resumes from it and writes the checkpoints after it in order, so one whose upload
failed goes out with the next batch's publication or the periodic ``ledger.archive`` job, never
lost; re-putting identical bytes is a no-op in both backends.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.conf import settings
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ledger.archive import ArchiveError, Backend, backend_for, checkpoint_key, checkpoints_prefix, encode_checkpoint
from ledger.models import Checkpoint, CheckpointArchiveMark, TenantHead
from ledger.representations import checkpoint_repr
from ledger.selectors import tenant_slug
from maestro.queue import wake_on_commit, woken

# The job that writes a tenant's new checkpoints (ledger/jobs.py), enqueued when a batch commits:
# a worker does the upload, so the sequencer's serial path pays one enqueue, not a write to
# storage (in-process, the embedded default, it runs right after the commit).
PUBLISH_JOB = "ledger.publish_checkpoints"
# A publication after a commit stays short (normally it writes one checkpoint); after an outage
# the periodic job writes the rest.
ON_COMMIT_LIMIT = 100


def checkpoint_publish_on_commit(*, tenant_id: int) -> None:
    """Once the current transaction (a sequencer batch) commits, have the tenant's new
    checkpoints written to the archive. Nothing is written from a batch that rolls back. With a
    broker, one wake-up per tenant at a time, like the sequencer's (a run publishes everything
    past the tenant's mark, so one pending run covers every batch committed before it starts);
    in the embedded default, right after the commit."""
    wake_on_commit(PUBLISH_JOB, tenant_id, embedded_delay=None)


def checkpoint_publish_woken(*, tenant_id: int) -> None:
    woken(PUBLISH_JOB, tenant_id)


@functools.lru_cache(maxsize=4)
def _backend(url: str) -> Backend:
    # One per archive URL and process: an S3 client is expensive to build for every batch.
    return backend_for(url)


def checkpoints_publish(*, tenant_id: int, backend: Backend | None = None, limit: int | None = None) -> int:
    """Write the tenant's checkpoints that are not in the archive yet, oldest first, and move
    the mark past each one written. Returns how many were written; raises ArchiveError (the
    mark then stands after the last one that went out)."""
    mark = CheckpointArchiveMark.objects.filter(tenant_id=tenant_id).values_list("tree_size", flat=True).first()
    pending = Checkpoint.objects.filter(tenant_id=tenant_id, tree_size__gt=mark or 0).order_by("tree_size")
    checkpoints = list(pending[:limit] if limit else pending)
    if not checkpoints:
        return 0
    backend = backend or _backend(settings.MAESTRO_ARCHIVE_URL)
    slug = tenant_slug(tenant_id)
    written = 0
    try:
        for checkpoint in checkpoints:
            backend.put(checkpoint_key(slug, checkpoint.tree_size), encode_checkpoint(checkpoint_repr(checkpoint)))
            written = checkpoint.tree_size
    finally:
        if written:
            _advance_mark(tenant_id, written)
    return len(checkpoints)


def _advance_mark(tenant_id: int, tree_size: int) -> None:
    now = timezone.now()
    CheckpointArchiveMark.objects.bulk_create([CheckpointArchiveMark(tenant_id=tenant_id, updated_at=now)],
                                              ignore_conflicts=True)
    # Only forward: two publications after two quick commits may finish in either order.
    CheckpointArchiveMark.objects.filter(tenant_id=tenant_id, tree_size__lt=tree_size) \
        .update(tree_size=tree_size, updated_at=now)


def tenants_with_unarchived_checkpoints() -> list[int]:
    """Tenants whose newest checkpoint is past their mark (for the periodic job)."""
    newest = Checkpoint.objects.filter(tenant_id=OuterRef("tenant_id")).order_by("-tree_size").values("tree_size")[:1]
    mark = CheckpointArchiveMark.objects.filter(tenant_id=OuterRef("tenant_id")).values("tree_size")[:1]
    return sorted(TenantHead.objects.annotate(newest=Subquery(newest), mark=Coalesce(Subquery(mark), 0))
                  .filter(newest__gt=F("mark")).values_list("tenant_id", flat=True))


def archived_checkpoints(*, backend: Backend, slug: str) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """The tenant's checkpoints as the archive holds them, by tree size, and a problem per object
    that cannot be read or is not a checkpoint (named by its key)."""
    found: dict[int, dict[str, Any]] = {}
    problems: list[str] = []
    for key in backend.list(checkpoints_prefix(slug)):
        try:
            checkpoint = json.loads(backend.get(key))
        except (ArchiveError, ValueError) as exc:
            problems.append(f"{key}: unreadable ({exc})")
            continue
        size = checkpoint.get("treeSize") if isinstance(checkpoint, dict) else None
        if not isinstance(size, int) or key != checkpoint_key(slug, size):
            problems.append(f"{key}: not a checkpoint of this archive")
            continue
        found[size] = checkpoint
    return found, problems
