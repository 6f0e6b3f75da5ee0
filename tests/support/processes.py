"""Maestro's own production processes for black-box tests: ``bin/worker`` against the test
database and this run's Redis, started and stopped by the test."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_processes(tmp_path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start(*queues, **env)`` starts one ``bin/worker`` (its log in the test's tmp dir; all
    queues unless some are named); every one started is stopped at the end of the test."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis")
    db = connection.settings_dict
    base = {**os.environ, "MAESTRO_ENV": "test", "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
            "MAESTRO_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
                                    f"{db['NAME']}",
            "MAESTRO_REDIS_URL": settings.REDIS_URL, "MAESTRO_WORKER_CONCURRENCY": "2",
            "MAESTRO_LOG_LEVEL": "WARNING"}
    started: list[subprocess.Popen[bytes]] = []

    def start(*queues: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115 — closed with the process
        args = ["bin/worker", *(["-Q", ",".join(queues)] if queues else [])]
        process = subprocess.Popen(args, cwd=ROOT, env={**base, **env}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
