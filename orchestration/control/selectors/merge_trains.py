from __future__ import annotations

from datetime import timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from maestro.core.exceptions import NotFound
from maestro.tenancy.models import Tenant
from orchestration.base.selectors import Lock, one
from orchestration.control.models.merge_trains import MergeTrain, MergeTrainPullRequest


def _with_prs(qs: QuerySet[MergeTrain]) -> QuerySet[MergeTrain]:
    """Only the PRs the API shows or counts: those still in the train and those finished in the
    last day (throughput). The train's older history stays in the table, unread."""
    since = timezone.now() - timedelta(hours=24)
    prs = (MergeTrainPullRequest.objects
           .filter(Q(status__in=MergeTrainPullRequest.ACTIVE) | Q(finished_at__gte=since))
           .order_by("position", "created_at", "id"))
    return qs.prefetch_related(Prefetch("pull_requests", queryset=prs))


def merge_train_list(*, tenant: Tenant) -> QuerySet[MergeTrain]:
    return _with_prs(MergeTrain.objects.filter(tenant=tenant))


def merge_train_get(*, tenant: Tenant, train_id: str, lock: Lock = None) -> MergeTrain:
    qs = MergeTrain.objects.filter(tenant=tenant, slug=train_id)
    return one(qs if lock else _with_prs(qs), "merge_train", train_id, lock=lock)


def merge_train_default(*, tenant: Tenant) -> MergeTrain:
    """The train ``GET merge-trains`` answers with (the old API knew only one): the oldest."""
    train = merge_train_list(tenant=tenant).order_by("created_at", "id").first()
    if train is None:
        raise NotFound("merge_train")
    return train
