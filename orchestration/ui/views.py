"""The operators' pages. Thin: each view finds who is asking and in which tenant, then renders
what the selectors read; controls call the same services as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from maestro.auth import sso
from maestro.core.actors import Actor
from maestro.core.exceptions import NotFound
from maestro.core.roles import Role
from maestro.tenancy.models import Tenant
from maestro.tenancy.services import user_sign_in
from orchestration.ui.selectors import BOARD, DASHBOARD, SECTIONS, TenantChoice, page_sections, signed_in_as, tenants_of

TENANT_KEY = "maestro_ui_tenant"  # the tenant the pages last showed, per session


def _to_login(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("ui-login") + "?" + urlencode({"next": request.get_full_path()}))


def _current(request: HttpRequest, tenants: list[TenantChoice]) -> TenantChoice | None:
    """The tenant asked for (``?tenant=``), else the one shown last, else the first; ``None``
    when the person may open none of them."""
    wanted = request.GET.get("tenant") or request.session.get(TENANT_KEY)
    by_slug = {t.slug: t for t in tenants}
    if request.GET.get("tenant"):
        return by_slug.get(request.GET["tenant"])
    return by_slug.get(wanted or "") or (tenants[0] if tenants else None)


def _page(request: HttpRequest) -> tuple[dict[str, Any], Tenant] | HttpResponse:
    """Who is asking and which tenant they see: the page context and the tenant, or the
    answer when there is no page to show (not signed in; no such tenant of theirs)."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):  # the anonymous user
        return _to_login(request)
    tenants = tenants_of(user)
    current = _current(request, tenants)
    # Read only by a whole page's header, never by a section a live page fetches again.
    context = {"me": SimpleLazyObject(lambda: signed_in_as(user)), "tenants": tenants, "current": current,
               "can_operate": current is not None and Role.rank(current.role) >= Role.rank(Role.OPERATOR)}
    if current is None:
        status = 403 if request.GET.get("tenant") or tenants else 200
        return render(request, "maestro/no_tenant.html", context, status=status)
    return context, current.tenant


def _render(request: HttpRequest, template: str, names: tuple[str, ...], params: dict[str, str]) -> HttpResponse:
    page = _page(request)
    if isinstance(page, HttpResponse):
        return page
    context, tenant = page
    try:
        sections = page_sections(tenant=tenant, names=names, params=params)
    except NotFound as exc:
        raise Http404(exc.message) from None
    request.session[TENANT_KEY] = context["current"].slug
    return render(request, template, {**context, **sections, "params": params})


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return _render(request, "maestro/dashboard.html", DASHBOARD, {})


@require_GET
def project_board(request: HttpRequest, project_id: str) -> HttpResponse:
    return _render(request, "maestro/board.html", BOARD, {"project": project_id})


@require_GET
def session_view(request: HttpRequest, session_id: str) -> HttpResponse:
    return _render(request, "maestro/session.html", ("session",), {"session": session_id})


@require_GET
def run_view(request: HttpRequest, run_id: str) -> HttpResponse:
    return _render(request, "maestro/run.html", ("run",), {"run": run_id})


@require_GET
def section(request: HttpRequest, name: str) -> HttpResponse:
    """One section of a page, as the page has it, for a live page to swap in (the page's
    parameters — ``project``, ``session`` — in the query)."""
    if name not in SECTIONS:
        raise Http404("no such section")
    page = _page(request)
    if isinstance(page, HttpResponse):
        return HttpResponse(status=401 if page.status_code == 302 else page.status_code)
    context, tenant = page
    params = {key: request.GET.get(key, "") for key in ("project", "session", "run")}
    try:
        sections = page_sections(tenant=tenant, names=[name], params=params)
    except NotFound as exc:
        raise Http404(exc.message) from None
    return render(request, f"maestro/sections/{name}.html", {**context, **sections, "params": params})


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """The pages' sign-in: single sign-on, and the password form while local login is on."""
    next_url = sso.safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method == "GET":
        return HttpResponseRedirect(next_url)
    if request.method == "POST" and not settings.MAESTRO_LOCAL_LOGIN:
        return HttpResponseForbidden("Password sign-in is switched off: use single sign-on.",
                                     content_type="text/plain")
    form = AuthenticationForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        login(request, user)
        user_sign_in(user=user, actor=Actor.for_user(user, via_api=False), how="password")
        return HttpResponseRedirect(next_url)
    context = {"form": form, "next": next_url, "local_login": settings.MAESTRO_LOCAL_LOGIN,
               "sso_enabled": sso.sso_enabled(), "sso_provider_name": settings.SSO_PROVIDER_NAME,
               "sso_login_url": reverse("sso-login") + "?" + urlencode({"next": next_url})}
    return render(request, "maestro/login.html", context, status=400 if form.errors else 200)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    return sso.sign_out(request, back=reverse("ui-login"))
