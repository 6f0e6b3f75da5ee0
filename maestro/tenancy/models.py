from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from maestro.core.roles import Role

DEFAULT_TENANT_SLUG = "default"


class Tenant(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}: {self.role}"


def hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is as safe as a slow one here and
    # keeps authentication off the hot path.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    PREFIX = "mae_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    key_prefix = models.CharField(max_length=16, editable=False,
                                  validators=[RegexValidator(r"^mae_[A-Za-z0-9_-]+$")])
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.user} @ {self.tenant})"

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class OidcIdentity(models.Model):
    """A person or client of an identity provider, as (issuer, subject), and the Maestro user
    it acts as. The only way a JWT becomes a user: never by a username claim."""

    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="uniq_oidc_identity")]

    def __str__(self) -> str:
        return f"{self.subject} via {self.issuer}"


def oidc_username(issuer: str, subject: str) -> str:
    """The username of a user created for an identity: ``oidc:`` and a digest of issuer and
    subject. Django's username validator refuses ``:``, so no local account can hold one."""
    return "oidc:" + hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:40]
