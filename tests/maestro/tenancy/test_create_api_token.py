import io

from django.core.management import call_command

from maestro.tenancy.models import ApiToken, Membership, Tenant, hash_token
from maestro.write_path.models import AuditEvent


def test_create_api_token_prints_only_the_token_and_creates_what_is_missing(db):
    # when
    out = io.StringIO()
    call_command("create_api_token", "--username", "ci-bot", "--tenant", "acme", "--role", "viewer", stdout=out)
    raw = out.getvalue().strip()
    # then
    assert raw.startswith("mae_") and "\n" not in raw
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    assert token.tenant.slug == "acme" and token.user.username == "ci-bot"
    assert Membership.objects.get(user=token.user, tenant=token.tenant).role == "viewer"
    assert raw not in str(list(ApiToken.objects.values_list("key_hash", "key_prefix")))  # stored hashed only
    assert Tenant.objects.filter(slug="default").exists()
    # the new tenant, the membership and the token are each audited in it
    assert list(AuditEvent.objects.filter(tenant=token.tenant).order_by("id").values_list("action", flat=True)) == [
        "tenant.create", "membership.set", "api_token.create"]


def test_token_from_command_authenticates(db, client):
    out = io.StringIO()
    call_command("create_api_token", "--username", "u1", "--role", "operator", stdout=out)
    r = client.get("/api/projects", HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert r.status_code == 200 and r.json() == []
