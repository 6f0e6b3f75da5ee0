"""Merge trains and their pull requests. Any change to a train or its PRs moves the train's
``version``, so two operators editing one train cannot overwrite each other."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from maestro.actors import Actor
from maestro.exceptions import Conflict, NotFound, ValidationFailed
from maestro.write_path import record, service
from orchestration.models import MergeTrain, MergeTrainPullRequest
from orchestration.representations_control import merge_train_repr
from orchestration.selectors.merge_trains import merge_train_get
from orchestration.services.audit import refusals_audited
from orchestration.services.control_common import check_version, clean_or_400, require_choice

PR_FIELDS = ("title", "author", "status", "url", "position")


def _bump_and_record(train: MergeTrain, *, actor: Actor, action: str, details: str) -> MergeTrain:
    train.version += 1
    train.updated_at = timezone.now()
    train.save(update_fields=["status", "version", "updated_at"])
    fresh = merge_train_get(tenant=train.tenant, train_id=train.slug)
    record(tenant=train.tenant, actor=actor, action=action, resource_type="merge_train", resource_id=train.slug,
           details=details, event=("merge_train:updated", merge_train_repr(fresh)))
    return fresh


def merge_train_create(*, tenant: Any, actor: Actor, train_id: str, status: str = MergeTrain.Status.ACTIVE,
                       action: str = "merge_train.create") -> MergeTrain:
    require_choice(status, MergeTrain.Status.values, "status")
    now = timezone.now()
    with refusals_audited(tenant=tenant, actor=actor, action=action, resource_type="merge_train",
                          resource_id=train_id):
        try:
            with service():
                if MergeTrain.objects.filter(tenant=tenant, slug=train_id).exists():
                    raise Conflict(f"Merge train {train_id} already exists",
                                   details={"id": train_id, "policy": "unique_id"})
                train = MergeTrain(tenant=tenant, slug=train_id, status=status, created_at=now, updated_at=now)
                clean_or_400(train, exclude=["tenant"])
                train.save(force_insert=True)
                train = merge_train_get(tenant=tenant, train_id=train_id)
                record(tenant=tenant, actor=actor, action=action, resource_type="merge_train", resource_id=train_id,
                       details=f"Created merge train {train_id}",
                       event=("merge_train:created", merge_train_repr(train)))
        except IntegrityError:
            raise Conflict(f"Merge train {train_id} already exists",
                           details={"id": train_id, "policy": "unique_id"}) from None
    return train


def merge_train_set_status(*, tenant: Any, actor: Actor, train_id: str, status: str,
                           expected_version: int | None = None) -> MergeTrain:
    require_choice(status, MergeTrain.Status.values, "status")
    with refusals_audited(tenant=tenant, actor=actor, action="merge_train.set_status", resource_type="merge_train",
                          resource_id=train_id):
        with service():
            train = merge_train_get(tenant=tenant, train_id=train_id, for_update=True)
            check_version(train, expected_version)
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
    with refusals_audited(tenant=tenant, actor=actor, action="merge_train.pr_upsert", resource_type="merge_train",
                          resource_id=train_id):
        with service():
            train = merge_train_get(tenant=tenant, train_id=train_id, for_update=True)
            check_version(train, expected_version)
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
    with refusals_audited(tenant=tenant, actor=actor, action="merge_train.pr_remove", resource_type="merge_train",
                          resource_id=train_id):
        with service():
            train = merge_train_get(tenant=tenant, train_id=train_id, for_update=True)
            check_version(train, expected_version)
            deleted, _ = MergeTrainPullRequest.objects.filter(train=train, number=number).delete()
            if not deleted:
                raise NotFound("pull_request", str(number))
            train = _bump_and_record(train, actor=actor, action="merge_train.pr_remove",
                                     details=f"Removed PR #{number}")
    return train


def merge_train_delete(*, tenant: Any, actor: Actor, train_id: str, expected_version: int | None = None) -> None:
    with refusals_audited(tenant=tenant, actor=actor, action="merge_train.delete", resource_type="merge_train",
                          resource_id=train_id):
        with service():
            train = merge_train_get(tenant=tenant, train_id=train_id, for_update=True)
            check_version(train, expected_version)
            train.delete()
            record(tenant=tenant, actor=actor, action="merge_train.delete", resource_type="merge_train",
                   resource_id=train_id, details=f"Deleted merge train {train_id}",
                   event=("merge_train:deleted", {"id": train_id}))
