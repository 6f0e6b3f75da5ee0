"""What every control-state object (loop, agent, experiment, playbook, merge train) is: a row
of one tenant named by the slug id the old system used (unique per tenant, the constraint named
in each model), versioned for If-Match, listed oldest first."""

from django.core.validators import RegexValidator
from django.db import models

# The old ids are slugs such as ``cost-optimization``, ``exp-001``, ``pb-restart-pods``.
SLUG_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
slug_validator = RegexValidator(
    SLUG_RE, "An id is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit.")


class ControlObject(models.Model):
    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    slug = models.CharField("id", max_length=100, validators=[slug_validator])
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        name = getattr(self, "name", "")
        return f"{name} ({self.slug})" if name else self.slug
