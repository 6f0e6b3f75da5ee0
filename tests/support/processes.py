"""Maestro's own production processes for black-box tests: ``bin/worker`` and ``bin/scheduler``
against the test database and this run's Redis, started and stopped by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def maestro_processes(tmp_path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start(command, *args, **env)`` starts one of Maestro's production commands
    (``bin/worker``, ``bin/scheduler``) on the test database and this run's Redis (``env``
    overrides), its log in the test's tmp dir; every one started is stopped at the end."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis")
    db = connection.settings_dict
    base = {**os.environ, "MAESTRO_ENV": "test", "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
            "MAESTRO_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
                                    f"{db['NAME']}",
            "MAESTRO_REDIS_URL": settings.REDIS_URL, "MAESTRO_WORKER_CONCURRENCY": "2",
            "MAESTRO_LOG_LEVEL": "WARNING", "MAESTRO_VAR_DIR": str(tmp_path)}
    started: list[subprocess.Popen[bytes]] = []

    def start(command: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{Path(command).name}-{len(started)}.log", "wb")  # noqa: SIM115 — closed with the process
        process = subprocess.Popen([command, *args], cwd=ROOT, env={**base, **env}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is not None:
            print(f"{process.args[0]} exited early with {process.returncode}")
        else:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
    for log in sorted(tmp_path.glob("*.log")):  # pytest shows a teardown's output only when the test failed
        print(f"--- {log.name} (last 60 lines)", *log.read_text(errors="replace").splitlines()[-60:], sep="\n")


@pytest.fixture
def worker_processes(maestro_processes) -> Callable[..., subprocess.Popen[bytes]]:
    """``start(*queues, **env)`` starts one ``bin/worker`` (all queues unless some are named)."""
    def start(*queues: str, **env: str) -> subprocess.Popen[bytes]:
        return maestro_processes("bin/worker", *(["-Q", ",".join(queues)] if queues else []), **env)

    return start


def wait_for(check: Callable[[], bool], seconds: float = 60) -> None:
    """Polls ``check`` until it holds (real processes move at their own pace)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")
