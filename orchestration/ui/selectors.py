"""What the operators' pages show, read through each part's own selectors and representations
(the same shapes the API answers with), so a page and the API never disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from ledger.selectors import checkpoints_list, height
from ledger.status import tenant_backlog
from maestro.core.roles import Role
from maestro.tenancy.models import Membership, OidcIdentity, Tenant
from maestro.write_path.representations import audit_repr
from maestro.write_path.selectors import audit_log
from orchestration.control.representations import agent_repr, experiment_repr, loop_repr
from orchestration.control.selectors.agents import agent_list
from orchestration.control.selectors.experiments import experiment_list
from orchestration.control.selectors.loops import loop_list
from orchestration.health.selectors import dashboard_stats, health_snapshot

RECENT_AUDIT = 12


@dataclass(frozen=True)
class TenantChoice:
    slug: str
    name: str
    role: str


def tenants_of(user: AbstractBaseUser) -> list[TenantChoice]:
    """The tenants a signed-in person may open, with their role in each: their memberships, and
    for a superuser every tenant (as admin where no membership says otherwise)."""
    roles = {m.tenant_id: m.role for m in Membership.objects.filter(user_id=user.pk)}
    tenants = Tenant.objects.order_by("slug")
    if not getattr(user, "is_superuser", False):
        tenants = tenants.filter(pk__in=roles)
    return [TenantChoice(slug=t.slug, name=t.name or t.slug, role=roles.get(t.pk, Role.ADMIN)) for t in tenants]


def signed_in_as(user: AbstractBaseUser) -> dict[str, str]:
    """How the page names the person: the provider's identity for a single sign-on user (whose
    username is an opaque ``oidc:`` digest), the username otherwise."""
    identity = OidcIdentity.objects.filter(user_id=user.pk).first()
    if identity is not None:
        name = getattr(user, "first_name", "") or getattr(user, "email", "") or identity.subject
        return {"name": name, "via": identity.issuer, "subject": identity.subject}
    return {"name": user.get_username(), "via": "", "subject": ""}


def ledger_summary(*, tenant: Tenant) -> dict[str, Any]:
    last = checkpoints_list(tenant_id=tenant.pk).order_by("-tree_size").first()
    return {"height": height(tenant_id=tenant.pk), **tenant_backlog(tenant_id=tenant.pk),
            "lastCheckpoint": None if last is None else {"treeSize": last.tree_size, "timestamp": last.timestamp,
                                                          "rootHash": last.root_hash}}


# The dashboard's sections, each read on its own: the page renders them all, and a live page
# fetches again only the ones an event concerns (orchestration/ui/static/maestro/ui.js).
SECTIONS: dict[str, Callable[[Tenant], dict[str, Any]]] = {
    "health": lambda tenant: {"health": health_snapshot(tenant=tenant)},
    "stats": lambda tenant: {"stats": dashboard_stats(tenant=tenant)},
    "ledger": lambda tenant: {"ledger": ledger_summary(tenant=tenant)},
    "experiments": lambda tenant: {"experiments": [experiment_repr(e) for e in experiment_list(tenant=tenant)]},
    "loops": lambda tenant: {"loops": [loop_repr(loop) for loop in loop_list(tenant=tenant)]},
    "agents": lambda tenant: {"agents": [agent_repr(agent) for agent in agent_list(tenant=tenant)]},
    "audit": lambda tenant: {"audit": [audit_repr(row) for row in audit_log(tenant_id=tenant.pk)[:RECENT_AUDIT]]},
}


def dashboard_section(*, tenant: Tenant, name: str) -> dict[str, Any]:
    """One section's data; KeyError for a name that is not a section."""
    return SECTIONS[name](tenant)


def dashboard_page(*, tenant: Tenant) -> dict[str, Any]:
    """Everything the dashboard shows for one tenant."""
    page: dict[str, Any] = {}
    for read in SECTIONS.values():
        page.update(read(tenant))
    return page
