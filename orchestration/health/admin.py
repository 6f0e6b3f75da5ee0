"""The admin's index shows the health snapshot of the signed-in person's tenant above the
model list (templates/admin/index.html): the admin is the operators' main tool, so the first
page they see says what is wrong. Thin: the snapshot is ``selectors.health_snapshot``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from maestro.tenancy.models import DEFAULT_TENANT_SLUG, Membership, Tenant
from orchestration.health.selectors import health_snapshot

IndexView = Callable[..., HttpResponse]


def admin_tenant(request: HttpRequest) -> tuple[Tenant | None, list[Tenant]]:
    """Whose health the index shows, and the tenants the person may pick with ``?tenant=``:
    the tenant asked for (a superuser may ask for any, others for their own), else their only
    membership, else the default tenant. ``None`` when none of those exists."""
    user = request.user
    superuser = bool(getattr(user, "is_superuser", False))
    memberships = Membership.objects.filter(user_id=user.pk) if user.pk is not None else Membership.objects.none()
    own = list(Tenant.objects.filter(pk__in=memberships.values("tenant_id")))
    choices = list(Tenant.objects.all()) if superuser else own
    wanted = request.GET.get("tenant")
    if wanted:
        chosen = next((t for t in choices if t.slug == wanted), None)
        if chosen is not None:
            return chosen, choices
    if len(own) == 1:
        return own[0], choices
    return Tenant.objects.filter(slug=DEFAULT_TENANT_SLUG).first(), choices


def with_health(index: IndexView) -> IndexView:
    """``admin.site.index`` with the health snapshot in its context (maestro/urls.py)."""

    @wraps(index)
    def view(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        tenant, choices = admin_tenant(request)
        context: dict[str, Any] = {"maestro_tenant": tenant, "maestro_tenants": choices if len(choices) > 1 else []}
        if tenant is not None:
            context["maestro_health"] = health_snapshot(tenant=tenant)
        return index(request, extra_context={**context, **(extra_context or {})})

    return view
