"""The maestro_run command (orchestration/management/commands/maestro_run.py)."""

import io

from django.core.management import call_command

from maestro.tenancy.models import ApiToken
from maestro.write_path.models import AuditEvent


def _token(out: str) -> str:
    return out.split("API token: ", 1)[1].split()[0]


def test_maestro_run_no_serve_migrates_creates_admin_and_token(db, settings, tmp_path):
    # given
    settings.VAR_DIR = tmp_path
    # when
    out = io.StringIO()
    call_command("maestro_run", "--no-serve", stdout=out)
    again = io.StringIO()
    call_command("maestro_run", "--no-serve", stdout=again)
    # then: a restart prints the same token, and it still works
    text = out.getvalue()
    assert "login admin / " in text and "API token: mae_" in text
    assert _token(again.getvalue()) == _token(text)
    assert ApiToken.objects.filter(name="maestro_run", revoked_at__isnull=True).count() == 1
    assert not AuditEvent.objects.filter(action="api_token.revoke").exists()
    assert (tmp_path / "api_token").stat().st_mode & 0o777 == 0o600


def test_a_revoked_run_token_is_replaced_on_the_next_start(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = io.StringIO()
    call_command("maestro_run", "--no-serve", stdout=first)
    ApiToken.objects.filter(name="maestro_run").update(revoked_at="2026-01-01T00:00:00Z")
    second = io.StringIO()
    call_command("maestro_run", "--no-serve", stdout=second)
    assert _token(second.getvalue()) != _token(first.getvalue())
    assert ApiToken.objects.filter(name="maestro_run", revoked_at__isnull=True).count() == 1


def test_the_banner_names_an_address_a_browser_can_open(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("maestro_run", "--no-serve", "--host", "0.0.0.0", "--port", "9000", stdout=out)
    assert "starting at http://127.0.0.1:9000" in out.getvalue()
    assert "0.0.0.0" not in out.getvalue()
