"""/metrics names every tenant with its ledger height: in production it answers only the
scraper holding MAESTRO_METRICS_TOKEN (issue #9). A real bin/web with MAESTRO_ENV=production."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from ledger.sequencer import sequence_tenant
from maestro.tenancy.services import tenant_get_or_create
from tests.e2e.conftest import ROOT
from tests.factories import make_project, make_token

pytestmark = pytest.mark.postgres

SCRAPE_TOKEN = "scrape-" + "k" * 40


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _production(live_server_factory, **env: str):  # type: ignore[no-untyped-def]
    signing_key = subprocess.run([sys.executable, "-m", "ledger.keygen"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.strip()
    return live_server_factory(MAESTRO_ENV="production", MAESTRO_SECRET_KEY="s" * 50,
                               MAESTRO_LEDGER_SIGNING_KEY=signing_key, **env)


def test_production_metrics_answer_only_the_scrape_token(live_server_factory, tenant):
    # given: a tenant with a ledger of one entry (its project), and production configured with a scrape token
    acme = tenant_get_or_create(slug="acme-metered")
    make_project(acme, "Secret plans")
    sequence_tenant(tenant_id=acme.pk)
    api_token = make_token(username="olivia", tenant=tenant, role="admin")
    server = _production(live_server_factory, MAESTRO_METRICS_TOKEN=SCRAPE_TOKEN)
    url = f"{server.url}/metrics"

    # when
    refused = [_get(url), _get(url, {"Authorization": "Bearer wrong-" + SCRAPE_TOKEN}),
               _get(url, {"Authorization": SCRAPE_TOKEN}), _get(url, {"Authorization": f"Bearer {api_token}"}),
               _get(f"{url}?token={SCRAPE_TOKEN}")]
    status, text = _get(url, {"Authorization": f"Bearer {SCRAPE_TOKEN}"})

    # then: without the token (or with another credential) a 401 that names no tenant
    for code, body in refused:
        assert code == 401
        assert json.loads(body) == {"error": True, "code": "UNAUTHORIZED", "details": {},
                                    "message": "Metrics need Authorization: Bearer <MAESTRO_METRICS_TOKEN>"}
        assert "acme" not in body and "maestro_ledger" not in body
    # and: the scraper gets every tenant with its chain height
    assert status == 200
    assert 'maestro_ledger_chain_height{tenant="acme-metered"} 1.0' in text.splitlines()


def test_production_without_a_scrape_token_serves_no_metrics(live_server_factory, tenant):
    # given
    make_project(tenant_get_or_create(slug="acme-metered"), "Secret plans")
    server = _production(live_server_factory)

    # when
    answers = [_get(f"{server.url}/metrics"), _get(f"{server.url}/metrics", {"Authorization": "Bearer anything"})]

    # then
    for code, body in answers:
        assert code == 403
        assert json.loads(body)["message"] == "Metrics are off: set MAESTRO_METRICS_TOKEN (MAESTRO_ENV=production)"
        assert "acme" not in body
