"""Production refuses to start with JWT access half configured: a JWKS URL without the issuer
or the audience would accept a token issued to any other client of the provider."""

from __future__ import annotations

import pytest

from tests.maestro.test_processes import run

PRODUCTION = {"MAESTRO_ENV": "production", "MAESTRO_SECRET_KEY": "s" * 40,
              "MAESTRO_LEDGER_SIGNING_KEY": "", "MAESTRO_OIDC_JWKS_URL": "https://idp.example.test/jwks"}


@pytest.fixture(scope="module")
def signing_key() -> str:
    made = run(["python3", "-m", "ledger.keygen"])
    assert made.returncode == 0
    return made.stdout.strip()


@pytest.mark.parametrize(("given", "missing"), [
    ({"MAESTRO_OIDC_AUDIENCE": "maestro-api"}, "MAESTRO_OIDC_ISSUER"),
    ({"MAESTRO_OIDC_ISSUER": "https://idp.example.test"}, "MAESTRO_OIDC_AUDIENCE"),
    ({}, "MAESTRO_OIDC_ISSUER"),
])
@pytest.mark.parametrize("command", [["bin/web"], ["python3", "manage.py", "check"]])
def test_production_with_a_jwks_url_needs_an_issuer_and_an_audience(signing_key, command, given, missing):
    # when
    r = run(command, **{**PRODUCTION, "MAESTRO_LEDGER_SIGNING_KEY": signing_key, **given})
    # then
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"maestro: {missing} must be set when MAESTRO_OIDC_JWKS_URL is set and MAESTRO_ENV=production "
        "(the provider's issuer URL and the audience its tokens for Maestro carry)"]


def test_production_with_the_jwks_url_issuer_and_audience_gets_past_the_settings(signing_key, tmp_path):
    # when
    r = run(["python3", "manage.py", "check"], **{**PRODUCTION, "MAESTRO_LEDGER_SIGNING_KEY": signing_key,
                                                  "MAESTRO_OIDC_ISSUER": "https://idp.example.test",
                                                  "MAESTRO_OIDC_AUDIENCE": "maestro-api",
                                                  "MAESTRO_VAR_DIR": str(tmp_path)})
    # then
    assert "MAESTRO_OIDC" not in r.stderr
