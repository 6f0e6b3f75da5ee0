"""The maestro_run command (orchestration/management/commands/maestro_run.py)."""

import io

from django.core.management import call_command

from maestro.tenancy.models import ApiToken
from maestro.write_path.models import AuditEvent


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
