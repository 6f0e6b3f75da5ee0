from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import SYSTEM

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "maestro_db.json"

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


@pytest.fixture
def legacy_db() -> dict[str, Any]:
    """The old system's maestro_db.json (tests/fixtures/legacy, a copy of ../shared's)."""
    return json.loads(FIXTURE.read_text())


@pytest.fixture
def seeded(tenant):
    from orchestration.control.services.seed import seed_defaults

    seed_defaults(tenant=tenant, actor=SYSTEM)
    return tenant


@pytest.fixture
def eager_workers(settings):
    """The embedded default: jobs run in-process (so this process is the worker) and the
    channel layer is in-process too."""
    with celery_eager(True):
        settings.REDIS_URL = ""
        yield


@contextmanager
def celery_eager(value: bool) -> Iterator[None]:
    from maestro.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = value
    try:
        yield
    finally:
        app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _fresh_probes():
    from maestro.queue import forget_worker_pings
    from realtime.status import forget_layer_status

    forget_worker_pings(), forget_layer_status()
    yield
    forget_worker_pings(), forget_layer_status()


def make_run(tenant: Any, *, status: str = "succeeded", minutes_ago: float = 1, duration_ms: int | None = 1000,
             pipeline: str = "build", cost: float = 0.0) -> Any:
    """A run row as the engine leaves it (created ``minutes_ago``)."""
    from orchestration.runs.models import Run

    created = timezone.now() - timedelta(minutes=minutes_ago)
    finished = status in Run.FINISHED
    return Run.objects.create(
        tenant=tenant, pipeline=pipeline, pipeline_id=f"pl-{pipeline}", status=status, created_at=created,
        updated_at=created, started_at=created if status != "queued" else None,
        completed_at=created + timedelta(milliseconds=duration_ms or 0) if finished else None,
        duration_ms=duration_ms if finished else None, cost=cost)
