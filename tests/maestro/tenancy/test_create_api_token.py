import io
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

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


def test_maestro_run_no_serve_migrates_creates_admin_and_token(db, settings, tmp_path):
    # given
    settings.VAR_DIR = tmp_path
    # when
    out = io.StringIO()
    call_command("maestro_run", "--no-serve", stdout=out)
    call_command("maestro_run", "--no-serve", stdout=io.StringIO())
    # then
    text = out.getvalue()
    assert "login admin / " in text and "API token: mae_" in text
    # a second start revokes the first run token: exactly one live run token
    assert ApiToken.objects.filter(name="maestro_run", revoked_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1


@pytest.mark.django_db(transaction=True)
def test_only_one_scheduler_leads(settings, tmp_path):
    # given: two schedulers racing for leadership, each counting its enqueue rounds
    from maestro import scheduler

    settings.VAR_DIR = tmp_path
    settings.MAESTRO_SCHEDULER_STANDBY_RETRY = 0.05
    leaders: list[str] = []
    stops = [threading.Event(), threading.Event()]

    def run(i: int) -> None:
        scheduler.run(stop=stops[i], poll=0.05, jobs={}, on_leader=lambda: leaders.append(f"s{i}"))

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    time.sleep(0.6)
    # then: exactly one became leader
    assert len(leaders) == 1
    # when: the leader stops, the standby takes over
    first = int(leaders[0][1])
    stops[first].set()
    threads[first].join(5)
    deadline = time.time() + 5
    while len(leaders) < 2 and time.time() < deadline:
        time.sleep(0.05)
    stops[1 - first].set()
    threads[1 - first].join(5)
    assert leaders == [f"s{first}", f"s{1 - first}"], connection.vendor


def test_scheduler_finds_the_periodic_jobs(db, settings):
    from maestro.queue import registered

    for name in settings.MAESTRO_PERIODIC_JOBS:
        assert registered(name).name == name
