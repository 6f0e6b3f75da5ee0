from django.db import models


class SeedMarker(models.Model):
    """Remembers that a default object was seeded into a tenant, so seeding never re-creates
    what an operator has since edited or deleted."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    slug = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "slug"], name="uniq_seed_marker")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.slug}"
