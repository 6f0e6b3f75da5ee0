"""An event committed by another OS process — a Celery worker, an admin's shell — reaches a
browser's socket through the Redis channel layer exactly like one caused by the API."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import make_token
from tests.realtime.conftest import connect, in_thread, postgres_only

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, postgres_only]

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import django
django.setup()
import ledger.services
ledger.services.sequencer_poke_on_commit = lambda *, tenant_ids: None  # see conftest
from maestro.core.actors import Actor
from maestro.tenancy.models import Tenant
from orchestration.work.services.projects import project_create
from orchestration.work.services.tasks import task_create
tenant = Tenant.objects.get(slug="default")
project = project_create(tenant=tenant, actor=Actor.job("worker-7"), name="From a worker")
task_create(tenant=tenant, actor=Actor.job("worker-7"), project=project, title="Queued by a job")
print(project.id)
"""


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


async def test_an_event_committed_in_another_process_reaches_the_socket(tenant, redis_layer):
    # given: a browser connected to this process
    token = await in_thread(make_token)(username="olivia", tenant=tenant, role="viewer")
    client = await connect("/ws", token=token)
    head = client.hello["seq"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "maestro.settings", "MAESTRO_ENV": "test",
           "MAESTRO_DATABASE_URL": _database_url(), "MAESTRO_LOG_LEVEL": "ERROR"}

    # when: a separate Python process calls the services against the same database and Redis
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)

    # then
    assert proc.returncode == 0, err.decode()
    project_id = out.decode().strip().splitlines()[-1]
    got = await client.recv_many(4, timeout=10)
    assert [(m["type"], m["seq"]) for m in got] == [("audit:created", head + 1), ("project:created", head + 2),
                                                    ("audit:created", head + 3), ("task:created", head + 4)]
    assert got[0]["data"]["actor"] == "worker-7"
    assert got[1]["data"]["id"] == project_id
    assert got[3]["data"]["projectId"] == project_id
    assert await client.nothing()
    await client.close()
