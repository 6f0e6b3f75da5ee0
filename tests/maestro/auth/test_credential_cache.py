"""The web process's token cache (maestro.tenancy.credential_cache): a token is read once and
kept, until a credential changes anywhere: then it is read again, and a writer returns only once
every listening process has dropped what it held. PostgreSQL, real listener thread, real
notifications, writes from another connection as another process makes them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from maestro.auth.backends import user_for_api_token
from maestro.tenancy import credential_cache
from maestro.tenancy.models import ApiToken, Membership
from maestro.tenancy.services import api_token_revoke, membership_delete, membership_set, tenant_save
from tests.factories import SYSTEM, make_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cache(settings) -> Iterator[credential_cache.CredentialCache]:
    settings.MAESTRO_TOKEN_CACHE_SECONDS = 30
    yield _live()
    credential_cache.stop()


def _live(timeout: float = 10) -> credential_cache.CredentialCache:
    deadline = time.monotonic() + timeout
    while (cache := credential_cache.active()) is None:
        assert time.monotonic() < deadline, "the listener did not connect"
        time.sleep(0.02)
    return cache


def _reads(raw: str) -> tuple[object, int]:
    """What the token authenticates as, and how many queries that took."""
    with CaptureQueriesContext(connection) as queries:
        found = user_for_api_token(raw)
    return found, len(queries)


def _other_process(sql: str, params: list[object]) -> None:
    """``sql`` committed by a connection of its own, as another process (or psql) would."""
    s = connection.settings_dict
    with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"], autocommit=True) as other:
        other.execute(sql, params)


def _barriers_sent() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT last_value FROM maestro_credentials_seq")
        return int(cur.fetchone()[0])


def _token(username: str) -> ApiToken:
    return ApiToken.objects.get(user__username=username)


def test_a_token_is_read_once_then_kept(cache, tenant):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    first, first_queries = _reads(raw)
    again, again_queries = _reads(raw)
    assert first_queries >= 1 and again_queries == 0
    assert first is not None and again is not None
    user, token = again
    assert (user.username, token.tenant.slug, token.member_role, token.pk) == ("ada", tenant.slug, "operator",
                                                                               first[1].pk)
    assert user is not first[0]  # made afresh for each request, never shared between requests


def test_a_role_changed_through_the_service_is_read_at_the_next_request(cache, tenant):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    _reads(raw)
    membership_set(user=get_user_model().objects.get(username="ada"), tenant=tenant, role="viewer", actor=SYSTEM)
    found, queries = _reads(raw)
    assert queries == 1 and found is not None and found[1].member_role == "viewer"


@pytest.mark.parametrize("change", ["revoke", "remove_membership", "deactivate_user", "rename_tenant"])
def test_every_kind_of_credential_change_reaches_the_next_request(cache, tenant, change):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    assert _reads(raw)[0] is not None
    token = _token("ada")
    barriers = _barriers_sent()
    if change == "revoke":
        api_token_revoke(token=token, actor=SYSTEM)
    elif change == "remove_membership":
        membership_delete(membership=Membership.objects.get(user=token.user, tenant=tenant), actor=SYSTEM)
    elif change == "deactivate_user":
        user = token.user
        user.is_active = False
        user.save()
    else:
        tenant.name = "Renamed"
        tenant_save(tenant=tenant, actor=SYSTEM)
    # the writer returned after its barrier was seen by every listener (test_a_change_committed…)
    assert _barriers_sent() > barriers
    found, queries = _reads(raw)
    assert queries >= 1
    if change == "revoke" or change == "deactivate_user":
        assert found is None
    elif change == "remove_membership":
        assert found is not None and found[1].member_role is None
    else:
        assert found is not None and found[1].tenant.name == "Renamed"


def test_a_change_committed_by_another_process_reaches_this_one(cache, tenant):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    _reads(raw)
    # when psql revokes it (no service, no signal: the trigger tells the listeners)
    _other_process("UPDATE tenancy_apitoken SET revoked_at = now() WHERE key_prefix = %s", [raw[:12]])
    # then a writer's barrier, sent after that commit, is seen only once the change was
    assert credential_cache.settle(timeout=5) is True
    assert _reads(raw) == (None, 1)


def test_the_last_use_stamp_alone_changes_nothing(cache, tenant):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    _reads(raw)
    _other_process("UPDATE tenancy_apitoken SET last_used_at = now() WHERE key_prefix = %s", [raw[:12]])
    assert credential_cache.settle(timeout=5) is True
    assert _reads(raw)[1] == 0


def test_a_read_that_overlapped_a_change_is_not_kept(cache, tenant):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    generation = cache.generation()
    _, stale = user_for_api_token_uncached(raw)
    _other_process("UPDATE tenancy_apitoken SET revoked_at = now() WHERE key_prefix = %s", [raw[:12]])
    assert credential_cache.settle(timeout=5) is True
    cache.put(stale.key_hash, generation, stale)  # the read that began before the revocation ends now
    assert cache.get(stale.key_hash, 30) is None
    assert _reads(raw) == (None, 1)


def user_for_api_token_uncached(raw: str):  # type: ignore[no-untyped-def]
    with transaction.atomic():  # inside a transaction the cache is neither read nor filled
        return user_for_api_token(raw)


def test_inside_a_transaction_every_read_goes_to_the_database(cache, tenant):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    _reads(raw)
    with transaction.atomic():
        assert credential_cache.active() is None
        ApiToken.objects.filter(key_prefix=raw[:12]).update(revoked_at="2026-01-01T00:00:00Z")
        assert _reads(raw) == (None, 1)  # its own uncommitted revocation
        transaction.set_rollback(True)
    assert _reads(raw)[0] is not None


def test_a_kept_token_is_read_again_after_its_time(cache, tenant, settings):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    _reads(raw)
    settings.MAESTRO_TOKEN_CACHE_SECONDS = 0.2
    assert _reads(raw)[1] == 0
    time.sleep(0.3)
    assert _reads(raw)[1] == 1


def test_unknown_tokens_are_not_kept(cache, tenant):
    assert _reads("mae_" + "x" * 43) == (None, 1)
    assert len(cache) == 0


def test_without_its_listener_a_process_reads_every_token(cache, tenant):
    raw = make_token(username="ada", tenant=tenant, role="operator")
    _reads(raw)
    # when the listener's connection is cut
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name LIKE 'maestro-credentials %%'")
    deadline = time.monotonic() + 5
    while credential_cache.active() is not None:
        assert time.monotonic() < deadline, "the cut was not noticed"
        time.sleep(0.01)
    # then nothing kept is used, and a revocation meanwhile is seen at once
    assert len(cache) == 0
    assert _reads(raw)[1] == 1
    _other_process("UPDATE tenancy_apitoken SET revoked_at = now() WHERE key_prefix = %s", [raw[:12]])
    assert _reads(raw) == (None, 1)
    # and once it is back, tokens are kept again
    _live()
    other = make_token(username="bob", tenant=tenant, role="viewer")
    _reads(other)
    assert _reads(other)[1] == 0


def test_a_writer_gives_up_on_a_listener_that_never_answers(cache, tenant, caplog):
    s = connection.settings_dict
    with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"], autocommit=True,
                         application_name="maestro-credentials 0"):
        started = time.monotonic()
        assert credential_cache.settle(timeout=0.3) is False
        assert 0.3 <= time.monotonic() - started < 3
    assert any(getattr(r, "event", "") == "credentials.settle_timeout" for r in caplog.records)
    assert credential_cache.settle(timeout=5) is True


def _listener_acks() -> list[int]:
    with connection.cursor() as cur:
        cur.execute("SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name LIKE 'maestro-credentials %%'")
        return [int(name.rsplit(" ", 1)[1]) for (name,) in cur.fetchall()]


def test_a_reconnected_listener_never_acknowledges_less_than_it_did(cache, tenant):
    s = connection.settings_dict
    with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"]) as writer:
        # given a barrier drawn, its transaction not yet committed
        early = writer.execute("SELECT n FROM nextval('maestro_credentials_seq') AS n, "
                               "pg_notify('maestro_credentials', n::text)").fetchone()[0]
        _other_process("SELECT nextval('maestro_credentials_seq')", [])
        # and a listener that connects after both were drawn (it acknowledges the later one)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name LIKE 'maestro-credentials %%'")
        deadline = time.monotonic() + 10
        while not (_listener_acks() and min(_listener_acks()) > early):
            assert time.monotonic() < deadline, "the listener did not reconnect"
            time.sleep(0.02)
        acknowledged = min(_listener_acks())
        # when the early barrier's transaction commits, and the listener is told of it
        writer.commit()
        until = time.monotonic() + 0.5
        while time.monotonic() < until:
            # then its acknowledgement does not go back to it
            assert min(_listener_acks()) >= acknowledged
            time.sleep(0.01)
