from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.test import Client
from rest_framework.test import APIClient

os.environ.setdefault("MAESTRO_ENV", "test")
# Rich assertion messages from the shared helpers (registered before anything imports them).
pytest.register_assert_rewrite("tests.support")

from tests.factories import SYSTEM, make_project, make_token  # noqa: E402
from tests.support.oidc import idp  # noqa: E402, F401 — the identity provider fixture
from tests.support.processes import maestro_processes, worker_processes  # noqa: E402, F401 — bin/worker, bin/scheduler
from tests.support.redis import RedisServer  # noqa: E402


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Before any fixture is torn down: what the test left to the embedded default's deferred
    thread (a ledger wake-up a second after its writes) is dropped, and a run under way is waited
    for, so none writes into the next test or deadlocks with the flush of the test database."""
    from maestro.queue import discard_deferred

    discard_deferred()
    return (yield)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of the test's own (killed and restarted by outage tests)."""
    server = RedisServer()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def tenant(db):
    from maestro.tenancy.services import default_tenant

    return default_tenant()


@pytest.fixture
def other_tenant(db):
    from maestro.tenancy.services import tenant_get_or_create

    return tenant_get_or_create(slug="other")


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def operator_token(tenant) -> str:
    return make_token(username="olivia", tenant=tenant, role="operator")


@pytest.fixture
def api_client(operator_token) -> APIClient:
    """An operator of the default tenant."""
    return _client(operator_token)


@pytest.fixture
def viewer_client(tenant) -> APIClient:
    return _client(make_token(username="victor", tenant=tenant, role="viewer"))


@pytest.fixture
def admin_client(tenant) -> APIClient:
    return _client(make_token(username="ada", tenant=tenant, role="admin"))


@pytest.fixture
def other_client(other_tenant) -> APIClient:
    """An operator of another tenant."""
    return _client(make_token(username="oscar", tenant=other_tenant, role="operator"))


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def project(tenant):
    """A project of the default tenant, named Payments."""
    return make_project(tenant, "Payments")


@pytest.fixture
def seeded(tenant):
    """The default tenant with the old system's control state (loops, agents, experiments, ...)."""
    from orchestration.control.services.seed import seed_defaults

    seed_defaults(tenant=tenant, actor=SYSTEM)
    return tenant


@pytest.fixture
def staff(db, django_user_model) -> Client:  # type: ignore[no-untyped-def]
    """A logged-in superuser ``root`` in the admin."""
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _archive_of_its_own(tmp_path, settings, monkeypatch):
    """Every test its own WORM archive (processes it starts too, through the environment): a
    committed ledger batch writes its signed checkpoint there and ``ledger_verify`` reads them
    back, so a shared one (or a dev server's ``var/archive``) would mix tenants sharing a slug."""
    url = (tmp_path / "archive").as_uri()
    settings.MAESTRO_ARCHIVE_URL = url
    # The test process reads every token (a listener would hold a connection to the test
    # database from test to test); the processes a test starts keep the default, and the
    # cache's own tests turn it on (tests/maestro/auth/test_credential_cache.py).
    settings.MAESTRO_TOKEN_CACHE_SECONDS = 0
    monkeypatch.setenv("MAESTRO_ARCHIVE_URL", url)


@pytest.fixture(scope="session", autouse=True)
def _drain_test_job_queue():
    """Tests publish jobs nobody consumes; leave the broker as we found it."""
    yield
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        from maestro.queue import all_queues, wake_markers

        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            client.delete(*all_queues())
            # wake-ups marked pending that no worker will ever start
            markers = list(client.scan_iter(wake_markers()))
            if markers:
                client.delete(*markers)
        finally:
            client.close()
