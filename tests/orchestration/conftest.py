from __future__ import annotations

import json
from typing import Any

import pytest

from tests.orchestration.legacy.helpers import LEGACY
from tests.support.jobs import celery_eager


@pytest.fixture
def legacy_db() -> dict[str, Any]:
    """The old system's maestro_db.json (tests/fixtures/legacy, a copy of ../shared's)."""
    return json.loads((LEGACY / "maestro_db.json").read_text())


@pytest.fixture
def eager_workers(settings):
    """The embedded default: jobs run in-process (so this process is the worker) and the
    channel layer is in-process too."""
    with celery_eager(True):
        settings.REDIS_URL = ""
        yield


@pytest.fixture(autouse=True)
def _fresh_probes():
    from maestro.queue import forget_worker_pings
    from realtime.status import forget_layer_status

    forget_worker_pings(), forget_layer_status()
    yield
    forget_worker_pings(), forget_layer_status()
