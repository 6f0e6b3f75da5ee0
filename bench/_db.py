"""Shared set-up for benchmarks: a dedicated PostgreSQL database, migrated, per benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def use_bench_database(name: str) -> str:
    """Points MAESTRO_DATABASE_URL at a fresh database ``name`` on the configured server and
    sets Django up. Requires PostgreSQL: budgets are about the production store."""
    base = os.environ.get("MAESTRO_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = urlparse(base)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("benchmarks need PostgreSQL: set MAESTRO_DATABASE_URL=postgres://…")
    import psycopg

    admin_url = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["MAESTRO_DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{name}"))
    # A fresh ledger per run: checkpoints archived by an earlier run's database would conflict.
    os.environ.setdefault("MAESTRO_ARCHIVE_URL", Path(tempfile.mkdtemp(prefix=f"{name}-archive-")).as_uri())
    os.environ.setdefault("MAESTRO_ENV", "dev")
    os.environ.setdefault("MAESTRO_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    return os.environ["MAESTRO_DATABASE_URL"]


def drop_bench_database(name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    parsed = urlparse(os.environ["MAESTRO_DATABASE_URL"])
    with psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def stop_processes(procs: list[Any], timeout: float = 30) -> None:
    """SIGTERM each process group (bin/web, bin/worker, … started with start_new_session), then
    SIGKILL the ones that did not end within ``timeout`` seconds."""
    import signal
    import subprocess

    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---- CPU accounting: what each side of a measured run cost (from /proc) ----------------

def family(proc: Any) -> set[int]:
    """The server's supervisor and all its descendants."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    found, grew = {proc.pid}, True
    while grew:
        more = {pid for pid, ppid in rows if ppid in found} - found
        grew = bool(more)
        found |= more
    return found


def postgres_pids() -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,comm="], capture_output=True, text=True).stdout
    return {int(pid) for pid, _, comm in (line.strip().partition(" ") for line in out.splitlines())
            if comm.strip() == "postgres"}


def cpu_seconds(pids: set[int]) -> float:
    """CPU time (user + system, all threads) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def cpu_mark(sides: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds so far of each side (named sets of processes) and of this process ("clients")."""
    return {**{side: cpu_seconds(pids) for side, pids in sides.items()}, "clients": time.process_time()}


def cpu_us_each(sides: dict[str, set[int]], since: dict[str, float], units: int) -> dict[str, float]:
    """Microseconds of CPU each side spent per unit of work since ``cpu_mark``."""
    now = cpu_mark(sides)
    return {side: (now[side] - since[side]) / units * 1e6 for side in since}
