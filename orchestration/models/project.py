from django.db import models

from orchestration.ids import new_id


def _project_id() -> str:
    return new_id("proj")


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=_project_id)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=500)
    working_dir = models.CharField(max_length=2000, blank=True, default="")
    description = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "created_at", "id"], name="project_tenant_keyset_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"
