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


def parse_role_claim(value: object) -> dict[str, str]:
    """A roles claim of the identity provider (MAESTRO_SSO_ROLES_CLAIM) as {tenant slug: role}:
    a list of ``tenant:role`` strings, or an object of tenant to role. The highest role wins
    where a tenant is named twice. ValueError naming the first entry that is not one."""
    pairs: list[tuple[object, object]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [(v.partition(":")[0], v.partition(":")[2]) if isinstance(v, str) else (v, None) for v in value]
    else:
        raise ValueError(f"the roles claim is {type(value).__name__}, not a list or an object")
    roles: dict[str, str] = {}
    for tenant, role in pairs:
        if not isinstance(tenant, str) or not tenant or role not in Role.values:
            raise ValueError(f"roles claim entry {tenant!r}: {role!r} is not tenant:role with a role of "
                             f"{', '.join(Role.values)}")
        if Role.rank(str(role)) > Role.rank(roles.get(tenant, "")):
            roles[tenant] = str(role)
    return roles
