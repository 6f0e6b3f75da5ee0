"""Merge trains and their pull requests. Any change to a train or its PRs moves the train's
``version``, so two operators editing one train cannot overwrite each other."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import NotFound, ValidationFailed
from orchestration.models import MergeTrain, MergeTrainPullRequest
from orchestration.representations_control import merge_train_repr
from orchestration.selectors.merge_trains import merge_train_get
from orchestration.services.control_common import (
    ConfigKind,
    bump_version,
    clean_or_400,
    config_create,
    config_delete,
    locked_write,
    record_change,
    require_choice,
)

PR_FIELDS = ("title", "author", "status", "url", "position")
MERGE_TRAIN = ConfigKind(model=MergeTrain, resource_type="merge_train", label="Merge train", present=merge_train_repr,
                         lock=lambda tenant, slug: merge_train_get(tenant=tenant, train_id=slug, for_update=True))


def _bump_and_record(train: MergeTrain, *, actor: Actor, action: str, details: str) -> MergeTrain:
    bump_version(train, ["status"])
    fresh = merge_train_get(tenant=train.tenant, train_id=train.slug)
    record_change(MERGE_TRAIN, fresh, tenant=train.tenant, actor=actor, action=action, details=details)
    return fresh


def merge_train_create(*, tenant: Any, actor: Actor, train_id: str, status: str = MergeTrain.Status.ACTIVE,
                       action: str = "merge_train.create") -> MergeTrain:
    require_choice(status, MergeTrain.Status.values, "status")
    now = timezone.now()
    train = MergeTrain(tenant=tenant, slug=train_id, status=status, created_at=now, updated_at=now)
    # Re-read so the event shows the train as the API does (with its pull requests).
    return config_create(MERGE_TRAIN, train, actor=actor, action=action,
                         after_save=lambda _saved: merge_train_get(tenant=tenant, train_id=train_id))


def merge_train_set_status(*, tenant: Any, actor: Actor, train_id: str, status: str,
                           expected_version: int | None = None) -> MergeTrain:
    require_choice(status, MergeTrain.Status.values, "status")
    with locked_write(MERGE_TRAIN, tenant=tenant, actor=actor, action="merge_train.set_status", slug=train_id,
                      expected_version=expected_version) as train:
        train.status = status
        train = _bump_and_record(train, actor=actor, action="merge_train.set_status",
                                 details=f"Set merge train {train_id} to {status}")
    return train


def merge_train_pr_upsert(*, tenant: Any, actor: Actor, train_id: str, number: int, title: str, author: str = "",
                          status: str = MergeTrainPullRequest.Status.QUEUED, url: str = "", position: int | None = None,
                          expected_version: int | None = None) -> MergeTrain:
    """Adds PR ``number`` to the train or updates it; leaving the train (passed/failed) stamps
    ``finished_at``, which the throughput counts."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValidationFailed("number must be a positive integer", details={"number": number})
    require_choice(status, MergeTrainPullRequest.Status.values, "status")
    with locked_write(MERGE_TRAIN, tenant=tenant, actor=actor, action="merge_train.pr_upsert", slug=train_id,
                      expected_version=expected_version) as train:
        now = timezone.now()
        pr = MergeTrainPullRequest.objects.filter(train=train, number=number).first()
        created = pr is None
        if pr is None:
            last = MergeTrainPullRequest.objects.filter(train=train).order_by("-position").first()
            pr = MergeTrainPullRequest(train=train, number=number, created_at=now,
                                       position=(last.position + 1) if last else 0)
        was_finished = pr.status in MergeTrainPullRequest.FINISHED and not created
        pr.title, pr.author, pr.status, pr.url, pr.updated_at = title, author, status, url, now
        if position is not None:
            pr.position = position
        if status in MergeTrainPullRequest.FINISHED and not was_finished:
            pr.finished_at = now
        elif status not in MergeTrainPullRequest.FINISHED:
            pr.finished_at = None
        clean_or_400(pr, exclude=["train"])
        pr.save()
        train = _bump_and_record(train, actor=actor, action="merge_train.pr_upsert",
                                 details=f"{'Added' if created else 'Updated'} PR #{number} ({status})")
    return train


def merge_train_pr_remove(*, tenant: Any, actor: Actor, train_id: str, number: int,
                          expected_version: int | None = None) -> MergeTrain:
    with locked_write(MERGE_TRAIN, tenant=tenant, actor=actor, action="merge_train.pr_remove", slug=train_id,
                      expected_version=expected_version) as train:
        deleted, _ = MergeTrainPullRequest.objects.filter(train=train, number=number).delete()
        if not deleted:
            raise NotFound("pull_request", str(number))
        train = _bump_and_record(train, actor=actor, action="merge_train.pr_remove",
                                 details=f"Removed PR #{number}")
    return train


def merge_train_delete(*, tenant: Any, actor: Actor, train_id: str, expected_version: int | None = None) -> None:
    config_delete(MERGE_TRAIN, tenant=tenant, actor=actor, slug=train_id, expected_version=expected_version)
