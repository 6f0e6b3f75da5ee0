from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from maestro.core.exceptions import NotFound
from orchestration.models import MergeTrain, MergeTrainPullRequest
from orchestration.selectors._one import one


def _with_prs(qs: QuerySet[MergeTrain]) -> QuerySet[MergeTrain]:
    """Only the PRs the API shows or counts: those still in the train and those finished in the
    last day (throughput). The train's older history stays in the table, unread."""
    since = timezone.now() - timedelta(hours=24)
    prs = (MergeTrainPullRequest.objects
           .filter(Q(status__in=MergeTrainPullRequest.ACTIVE) | Q(finished_at__gte=since))
           .order_by("position", "created_at", "id"))
    return qs.prefetch_related(Prefetch("pull_requests", queryset=prs))


def merge_train_list(*, tenant: Any) -> QuerySet[MergeTrain]:
    return _with_prs(MergeTrain.objects.filter(tenant=tenant))


def merge_train_get(*, tenant: Any, train_id: str, for_update: bool = False) -> MergeTrain:
    qs = MergeTrain.objects.filter(tenant=tenant, slug=train_id)
    return one(qs if for_update else _with_prs(qs), "merge_train", train_id, lock="update" if for_update else None)


def merge_train_default(*, tenant: Any) -> MergeTrain:
    """The train ``GET merge-trains`` answers with (the old API knew only one): the oldest."""
    train = merge_train_list(tenant=tenant).order_by("created_at", "id").first()
    if train is None:
        raise NotFound("merge_train")
    return train
