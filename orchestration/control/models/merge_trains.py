from django.db import models

from orchestration.control.models.base import ControlObject


class MergeTrain(ControlObject):
    """A merge queue. ``queueLength`` and ``throughput`` are not stored: they are counted from
    the pull requests (see representations_control.merge_train_repr)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        LOCKED = "locked"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)

    class Meta(ControlObject.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="uniq_merge_train_tenant_slug"),
            models.CheckConstraint(condition=models.Q(status__in=["active", "paused", "locked"]),
                                   name="merge_train_status_valid"),
        ]


class MergeTrainPullRequest(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PASSED = "passed"
        FAILED = "failed"
        MANUAL_CHECK = "manual_check"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.MANUAL_CHECK)
    FINISHED = (Status.PASSED, Status.FAILED)

    id = models.BigAutoField(primary_key=True)
    train = models.ForeignKey(MergeTrain, on_delete=models.CASCADE, related_name="pull_requests")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=500)
    author = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    url = models.CharField(max_length=2000, blank=True, default="")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "created_at", "id"]
        verbose_name = "pull request"
        constraints = [models.UniqueConstraint(fields=["train", "number"], name="uniq_train_pr_number")]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"
