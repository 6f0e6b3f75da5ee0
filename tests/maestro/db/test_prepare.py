"""Statements are bound server-side, and one a pooled connection has run often is prepared on
it (PostgreSQL plans it once per connection); MAESTRO_DB_PREPARE_THRESHOLD says how often, or
off; without Maestro's own pool (behind PgBouncer) nothing is prepared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from orchestration.runs.models import Run

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.postgres

PROBE = """
import django
django.setup()
from django.conf import settings
options = settings.DATABASES["default"]["OPTIONS"]
print(options["server_side_binding"], options["prepare_threshold"])
"""


def prepared() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cur.fetchall()]


@pytest.mark.django_db
def test_a_statement_run_often_on_a_connection_is_prepared_on_it(settings):
    threshold = settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    assert threshold == 5

    def read() -> None:  # a read no other test makes
        list(Run.objects.filter(pipeline="prepare-probe", cost__gt=-7).values_list("idempotency_key", "executor_id"))

    def ours() -> list[str]:
        return [s for s in prepared() if '"orchestration_run"."cost" >' in s]

    # when: the same read as many times as the threshold, then once more
    for _ in range(threshold):
        read()
    before = ours()
    read()
    after = ours()

    # then: prepared once it ran that often, with its values bound apart ($1), not in its text
    assert before == []
    assert len(after) == 1
    assert '"orchestration_run"."cost" > $1' in after[0] and '"orchestration_run"."pipeline" = $2' in after[0]


def _options(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_DB_")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "maestro.settings", "MAESTRO_ENV": "test",
                               "PYTHONPATH": str(ROOT), **env})
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "True 5"),
    ({"MAESTRO_DB_PREPARE_THRESHOLD": "2"}, "True 2"),
    ({"MAESTRO_DB_PREPARE_THRESHOLD": "off"}, "True None"),
    ({"MAESTRO_DB_POOL_MAX": "0"}, "True None"),  # behind PgBouncer: nothing prepared
    ({"MAESTRO_DB_PREPARE_THRESHOLD": "0"},
     "django.core.exceptions.ImproperlyConfigured: MAESTRO_DB_PREPARE_THRESHOLD must be a number of "
     "executions >= 1, or off"),
])
def test_the_prepare_threshold_setting(env, expected):
    url = os.environ["MAESTRO_DATABASE_URL"]
    assert _options(MAESTRO_DATABASE_URL=url, **env) == expected
