"""Roles a user or token holds in a tenant (DESIGN §3): each includes the ones before it."""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (read)"
    OPERATOR = "operator", "Operator (read + write)"
    ADMIN = "admin", "Admin (+ users, tokens, ledger operations)"

    @classmethod
    def rank(cls, role: str) -> int:
        ranks: dict[str, int] = {cls.VIEWER: 1, cls.OPERATOR: 2, cls.ADMIN: 3}
        return ranks.get(role, 0)
