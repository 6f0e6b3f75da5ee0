"""Merge trains and their pull requests. Any change to a train or its PRs moves the train's
``version``, so two operators editing one train cannot overwrite each other."""

from __future__ import annotations

from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import NotFound, ValidationFailed
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from orchestration.base import entities
from orchestration.control.models.merge_trains import MergeTrain, MergeTrainPullRequest
from orchestration.control.representations import merge_train_repr
from orchestration.control.selectors.merge_trains import merge_train_get

PR_FIELDS = ("title", "author", "status", "url", "position")
MERGE_TRAIN: entities.Kind[MergeTrain] = entities.Kind(
    model=MergeTrain, resource=Resource.MERGE_TRAIN, label="Merge train", present=merge_train_repr,
    lookup=lambda tenant, ident, lock: merge_train_get(tenant=tenant, train_id=ident, lock=lock),
    # A train is edited through its status and its pull requests (each its own action).
    update_action=Action.MERGE_TRAIN_SET_STATUS,
)


def _save_and_record(edit: entities.Edit[MergeTrain], details: str) -> MergeTrain:
    edit.save(["status"])
    edit.obj = merge_train_get(tenant=edit.obj.tenant, train_id=edit.obj.slug)
    edit.record(details)
    return edit.obj


def merge_train_create(*, tenant: Tenant, actor: Actor, train_id: str, status: str = MergeTrain.Status.ACTIVE,
                       action: Action = Action.MERGE_TRAIN_CREATE) -> MergeTrain:
    entities.require_choice(status, MergeTrain.Status.values, "status")
    now = timezone.now()
    train = MergeTrain(tenant=tenant, slug=train_id, status=status, created_at=now, updated_at=now)
    # Re-read so the event shows the train as the API does (with its pull requests).
    return entities.create(MERGE_TRAIN, train, tenant=tenant, actor=actor, action=action,
                           details=f"Created merge train {train_id}",
                           after_save=lambda _saved: merge_train_get(tenant=tenant, train_id=train_id))


def merge_train_set_status(*, tenant: Tenant, actor: Actor, train_id: str, status: str,
                           expected_version: int | None = None) -> MergeTrain:
    entities.require_choice(status, MergeTrain.Status.values, "status")
    with entities.editing(MERGE_TRAIN, tenant=tenant, actor=actor, ident=train_id,
                          expected_version=expected_version) as edit:
        edit.obj.status = status
        return _save_and_record(edit, f"Set merge train {train_id} to {status}")


def merge_train_pr_upsert(*, tenant: Tenant, actor: Actor, train_id: str, number: int, title: str, author: str = "",
                          status: str = MergeTrainPullRequest.Status.QUEUED, url: str = "", position: int | None = None,
                          expected_version: int | None = None) -> MergeTrain:
    """Adds PR ``number`` to the train or updates it; leaving the train (passed/failed) stamps
    ``finished_at``, which the throughput counts."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValidationFailed("number must be a positive integer", details={"number": number})
    entities.require_choice(status, MergeTrainPullRequest.Status.values, "status")
    with entities.editing(MERGE_TRAIN, tenant=tenant, actor=actor, ident=train_id, action=Action.MERGE_TRAIN_PR_UPSERT,
                          expected_version=expected_version) as edit:
        train = edit.obj
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
        entities.clean_or_400(pr, exclude=["train"])
        pr.save()
        return _save_and_record(edit, f"{'Added' if created else 'Updated'} PR #{number} ({status})")


def merge_train_pr_remove(*, tenant: Tenant, actor: Actor, train_id: str, number: int,
                          expected_version: int | None = None) -> MergeTrain:
    with entities.editing(MERGE_TRAIN, tenant=tenant, actor=actor, ident=train_id, action=Action.MERGE_TRAIN_PR_REMOVE,
                          expected_version=expected_version) as edit:
        deleted, _ = MergeTrainPullRequest.objects.filter(train=edit.obj, number=number).delete()
        if not deleted:
            raise NotFound("pull_request", str(number))
        return _save_and_record(edit, f"Removed PR #{number}")


def merge_train_delete(*, tenant: Tenant, actor: Actor, train_id: str, expected_version: int | None = None) -> None:
    entities.delete(MERGE_TRAIN, tenant=tenant, actor=actor, ident=train_id, expected_version=expected_version)
