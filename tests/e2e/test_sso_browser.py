"""A person signs in to the admin, and to the dashboard, through a real OpenID provider
(django-oidc-provider, started by the test) in a real Chromium, with the roles its groups and
claims give, and signs out of both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maestro.tenancy.models import Membership, OidcIdentity
from maestro.write_path.models import AuditEvent
from tests.support.oidc_provider import OidcProvider, oidc_provider  # noqa: F401  (the fixture)

pytestmark = pytest.mark.postgres
SHOTS = Path(os.environ.get("MAESTRO_SCREENSHOT_DIR", "var/screenshots"))


def sso_env(provider: OidcProvider, **extra: str) -> dict[str, str]:
    return {"MAESTRO_SSO_ISSUER": provider.issuer, "MAESTRO_SSO_CLIENT_ID": "maestro-admin",
            "MAESTRO_SSO_CLIENT_SECRET": "s3cret-of-the-client", "MAESTRO_SSO_PROVIDER_NAME": "Example IdP",
            "MAESTRO_SSO_GROUP_ROLES": "maestro-acme-admins=acme:admin,maestro-beta-viewers=beta:viewer",
            "MAESTRO_SSO_STAFF_GROUPS": "maestro-staff", **extra}


def register(provider: OidcProvider, url: str) -> None:
    provider.add_client(client_id="maestro-admin", client_secret="s3cret-of-the-client",
                        redirect_uri=f"{url}/sso/callback",
                        post_logout_redirect_uri=[f"{url}/admin/login/", f"{url}/login"])


def sign_in_at_the_provider(page, provider: OidcProvider, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Picks single sign-on on a Maestro sign-in page and signs in on the provider's own page."""
    page.click("#sso-login")
    page.wait_for_url(f"{provider.url}/accounts/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#idp-submit")


def test_sign_in_through_the_provider_lands_in_the_admin_and_signs_out_of_both(
        oidc_provider, live_server_factory, browser_page):  # noqa: F811
    page = browser_page
    live = live_server_factory(**sso_env(oidc_provider)).url
    register(oidc_provider, live)
    oidc_provider.add_user(username="alice", password="alice-pass-7", groups=["maestro-acme-admins", "maestro-staff"])

    # when: alice opens the admin's login page and picks single sign-on
    page.goto(f"{live}/admin/login/?next=/admin/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-login-sso.png"), full_page=True)
    assert page.inner_text("#sso-login") == "Sign in with Example IdP"
    sign_in_at_the_provider(page, oidc_provider, "alice", "alice-pass-7")

    # then: she lands in the admin, as the user linked to her (issuer, subject)
    page.wait_for_url(f"{live}/admin/")
    assert "Maestro administration" in page.content()
    identity = OidcIdentity.objects.select_related("user").get(issuer=oidc_provider.issuer)
    user = identity.user
    assert user.username.startswith("oidc:") and user.is_staff and not user.is_superuser
    # and: with the role her groups give, in that tenant only
    assert {(m.tenant.slug, m.role) for m in Membership.objects.filter(user=user)} == {("acme", "admin")}
    assert list(AuditEvent.objects.filter(action="user.sign_in").values_list("tenant__slug", "actor")) == [
        ("acme", f"{identity.subject} via {oidc_provider.issuer}")]

    # and: her session opens a WebSocket, in the tenant her groups gave her
    hello = page.evaluate("""() => new Promise((resolve) => {
        const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
        ws.onmessage = (m) => { resolve(JSON.parse(m.data)); ws.close(); };
        ws.onclose = (e) => resolve({closed: e.code});
    })""")
    assert (hello["type"], hello["tenant"], hello["role"]) == ("connected", "acme", "admin")

    # when: she signs out
    page.click("#logout-form button[type=submit]")
    # then: the provider's logout sends her back to the login page
    page.wait_for_url(f"{live}/admin/login/")
    assert AuditEvent.objects.filter(action="user.sign_out", tenant__slug="acme").count() == 1
    # and: the Maestro session is gone
    page.goto(f"{live}/admin/")
    assert page.url.startswith(f"{live}/admin/login/")
    # and: so is the provider's: signing in again asks for her password
    page.click("#sso-login")
    page.wait_for_url(f"{oidc_provider.url}/accounts/login/**")
    assert page.is_visible("#idp-submit")


def test_sign_in_from_the_dashboard_lands_on_it_with_the_roles_the_claims_give_and_signs_out(
        oidc_provider, live_server_factory, browser_page):  # noqa: F811
    page = browser_page
    live = live_server_factory(**sso_env(oidc_provider, MAESTRO_SSO_ROLES_CLAIM="maestro_roles")).url
    register(oidc_provider, live)
    oidc_provider.add_user(username="bob", password="bob-pass-7", email="bob@example.test", name="Bob Builder",
                           groups=["role:acme:operator", "role:beta:viewer"])

    # when: bob opens the dashboard, is sent to the sign-in page and picks single sign-on
    page.goto(f"{live}/")
    page.wait_for_url(f"{live}/login?next=%2F")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard-login.png"), full_page=True)
    sign_in_at_the_provider(page, oidc_provider, "bob", "bob-pass-7")

    # then: he lands on the dashboard, named as the provider names him, as operator of acme
    page.wait_for_url(f"{live}/")
    assert page.inner_text("#signed-in-as") == "Bob Builder · operator"
    assert page.inner_text("#role") == "operator"
    assert page.eval_on_selector_all("#tenant option", "os => os.map(o => [o.value, o.selected])") == [
        ["acme", True], ["beta", False]]
    assert page.is_visible("#health") and page.is_visible("#agents") and page.is_visible("#ledger")
    # and: styled by Maestro's own stylesheet (served by Maestro, no CDN)
    assert page.eval_on_selector(".top", "e => getComputedStyle(e).backgroundColor") == "rgb(31, 58, 95)"
    page.screenshot(path=str(SHOTS / "dashboard-1280.png"), full_page=True)
    # and: the claims gave exactly those memberships
    user = OidcIdentity.objects.get(issuer=oidc_provider.issuer).user
    assert (user.email, user.first_name) == ("bob@example.test", "Bob Builder")
    assert {(m.tenant.slug, m.role) for m in Membership.objects.filter(user=user)} == {
        ("acme", "operator"), ("beta", "viewer")}

    # when: he switches to beta
    page.select_option("#tenant", "beta")
    page.wait_for_url(f"{live}/?tenant=beta")
    # then: he is a viewer there
    assert page.inner_text("#role") == "viewer"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "dashboard-phone.png"), full_page=True)

    # when: he signs out
    page.click("#sign-out button[type=submit]")
    # then: the provider's logout sends him back to the sign-in page, and both sessions are gone
    page.wait_for_url(f"{live}/login")
    assert AuditEvent.objects.filter(action="user.sign_out").count() == 2  # one per tenant
    page.goto(f"{live}/")
    page.wait_for_url(f"{live}/login?next=%2F")
    page.click("#sso-login")
    page.wait_for_url(f"{oidc_provider.url}/accounts/login/**")
    assert page.is_visible("#idp-submit")
