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


def parse_group_roles(spec: str) -> dict[str, tuple[str, str]]:
    """``group=tenant:role`` pairs, comma-separated (MAESTRO_SSO_GROUP_ROLES), as
    {group: (tenant slug, role)}; ValueError naming the first pair that is not one."""
    mapping: dict[str, tuple[str, str]] = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        group, _, grant = pair.rpartition("=")
        tenant, _, role = grant.partition(":")
        if not group or not tenant or role not in Role.values:
            raise ValueError(f"MAESTRO_SSO_GROUP_ROLES: {pair!r} is not group=tenant:role with a role of "
                             f"{', '.join(Role.values)}")
        mapping[group] = (tenant, role)
    return mapping
