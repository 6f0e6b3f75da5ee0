"""Sequencer wake-ups under a steady write load (issue #9): queue length during the load and
drain time after it, with real processes — ``bin/web``, ``bin/worker``, ``bin/scheduler`` —
against PostgreSQL and Redis.

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    MAESTRO_REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/ingest_load.py

Writes are ``POST /api/tasks`` (each one a task, its audit row, a ledger intake row and the
sequencer's wake-up after commit) at a steady ``--rate`` for ``--seconds``, from a few
keep-alive client threads. Twice, in the same run, on a fresh database each:
- **baseline**: the old behaviour — besides the write's own wake-up, the load generator
  publishes one ``ledger.sequence_tenant`` job per write to the default queue, as every write
  did before wake-ups were coalesced and the sequencer had a queue of its own;
- **maestro**: as deployed — at most one wake-up per tenant waits, on the sequencer queue.
A sampler reads every queue's length (Redis ``LLEN``) and the intake backlog every 0.2 s;
after the load it waits until every queue is empty and every entry is sequenced (the drain).
Options: --rate 50 --seconds 20 --concurrency 2 (job processes of the one worker).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import ROOT, drop_bench_database, use_bench_database  # noqa: E402

DB_NAME = "maestro_bench_ingest"
PREFIX = "bench-ingest"  # names this run's queues (maestro-test-bench-ingest…) and wake-up markers
CLIENTS = 4
DRAIN_TIMEOUT = 300.0


@dataclass
class Run:
    name: str
    sent: int = 0
    failed: int = 0
    failures: dict[int, int] = field(default_factory=dict)  # status -> count
    samples: list[tuple[float, dict[str, int], int]] = field(default_factory=list)  # (t, depths, backlog)
    drain_seconds: float | None = None
    jobs_published: int = 0
    checkpoints: int = 0
    entries: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(extra: dict[str, str]) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", "MAESTRO_ENV": "test",
            "MAESTRO_CHANNELS_PREFIX": PREFIX, "MAESTRO_LOG_LEVEL": "WARNING", **extra}


def start(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The production command, its log (JSON lines) in $TMPDIR/bench-ingest-<command>.log."""
    log = (Path(tempfile.gettempdir()) / f"bench-ingest-{command}.log").open("ab")
    return subprocess.Popen([str(ROOT / "bin" / command)], cwd=ROOT, env=env, stdout=log, stderr=log)


def wait_for_port(port: int) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit("bin/web did not start")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def prepare() -> tuple[str, str, int]:
    """A token of an operator and a project to write tasks into."""
    from maestro.core.actors import Actor
    from maestro.tenancy.services import default_tenant, user_with_token
    from orchestration.work.services.projects import project_create

    tenant = default_tenant()
    actor = Actor.system("bench")
    token = user_with_token(username="bench", tenant_slug=tenant.slug, role="operator", actor=actor)
    project = project_create(tenant=tenant, actor=actor, name="Load")
    return token, project.id, tenant.pk


def writer(port: int, token: str, project_id: str, due: list[float], run: Run, lock: threading.Lock,
           old_poke: tuple[str, int] | None) -> None:
    from maestro.celery import app

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for i, at in enumerate(due):
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        conn.request("POST", "/api/tasks", json.dumps({"projectId": project_id, "title": f"load {i}"}), headers)
        response = conn.getresponse()
        response.read()
        ok = response.status == 201
        if ok and old_poke is not None:
            # the old write path: one sequencer job per write, on the one shared queue
            app.send_task("ledger.sequence_tenant", args=[old_poke[1]], queue=old_poke[0])
        with lock:
            run.sent += ok
            run.failed += not ok
            if not ok:
                run.failures[response.status] = run.failures.get(response.status, 0) + 1
            run.jobs_published += ok and old_poke is not None


def sampler(run: Run, queues: list[str], stop_event: threading.Event, t0: float) -> None:
    import redis
    from django.db import connection

    client = redis.Redis.from_url(os.environ["MAESTRO_REDIS_URL"])
    try:
        while not stop_event.is_set():
            depths = {q: int(client.llen(q)) for q in queues}
            with connection.cursor() as cur:
                cur.execute("SELECT count(*) FROM ledger_intakeentry")
                backlog = int(cur.fetchone()[0])
            run.samples.append((time.monotonic() - t0, depths, backlog))
            stop_event.wait(0.2)
    finally:
        client.close()
        connection.close()


def measure(name: str, *, token: str, project_id: str, tenant_id: int, rate: float, seconds: float,
            concurrency: int, baseline: bool) -> Run:
    from django.db import connections

    from maestro.queue import all_queues

    queues = all_queues()
    _purge(queues)
    before = _counts()
    connections.close_all()
    port = free_port()
    env = process_env({"MAESTRO_PORT": str(port), "MAESTRO_WORKER_CONCURRENCY": str(concurrency)})
    procs = [start("web", env), start("worker", env), start("scheduler", env)]
    run = Run(name)
    try:
        wait_for_port(port)
        time.sleep(3)  # the worker's pool is up
        run = _drive(run, port, token, project_id, tenant_id, queues, rate, seconds, baseline)
    finally:
        stop(procs)
        _purge(queues)
    after = _counts()
    run.checkpoints, run.entries = after[0] - before[0], after[1] - before[1]
    return run


def _drive(run: Run, port: int, token: str, project_id: str, tenant_id: int, queues: list[str], rate: float,
           seconds: float, baseline: bool) -> Run:
    stop_event = threading.Event()
    t0 = time.monotonic()
    sampling = threading.Thread(target=sampler, args=(run, queues, stop_event, t0))
    sampling.start()
    total = int(rate * seconds)
    schedule = [t0 + 0.5 + i / rate for i in range(total)]
    lock = threading.Lock()
    old_poke = (queues[0], tenant_id) if baseline else None
    threads = [threading.Thread(target=writer, args=(port, token, project_id, schedule[k::CLIENTS], run, lock,
                                                     old_poke)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load_end = time.monotonic() - t0
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        if run.samples and run.samples[-1][0] > load_end and _idle(run.samples[-1]):
            run.drain_seconds = max(0.0, run.samples[-1][0] - load_end)
            break
        time.sleep(0.1)
    stop_event.set()
    sampling.join()
    run.samples.append((load_end, {}, -1))  # marker: end of the load
    return run


def _idle(sample: tuple[float, dict[str, int], int]) -> bool:
    _, depths, backlog = sample
    return backlog == 0 and not any(depths.values())


def _counts() -> tuple[int, int]:
    """Checkpoints and sequenced entries so far."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM ledger_checkpoint), (SELECT count(*) FROM ledger_ledgerentry)")
        row = cur.fetchone()
    return int(row[0]), int(row[1])


def _purge(queues: list[str]) -> None:
    import redis

    from maestro.queue import wake_markers

    client = redis.Redis.from_url(os.environ["MAESTRO_REDIS_URL"])
    try:
        client.delete(*queues)
        markers = list(client.scan_iter(wake_markers()))
        if markers:
            client.delete(*markers)
    finally:
        client.close()


def report(run: Run, seconds: float) -> dict[str, float]:
    load_end = run.samples[-1][0]
    during = [(t, d, b) for t, d, b in run.samples[:-1] if t <= load_end]
    totals = [sum(d.values()) for _, d, _ in during]
    queues = sorted({q for _, d, _ in during for q in d})
    peak = {q.rsplit(".", 1)[-1] if "." in q else "default": max(d.get(q, 0) for _, d, _ in during) for q in queues}
    last = during[-1] if during else (0.0, {}, 0)
    failed = f"{run.failed} failed" + (f" {run.failures}" if run.failures else "")
    drain = "did not drain in 300 s" if run.drain_seconds is None else f"{run.drain_seconds:.1f} s"
    print(f"{run.name:>9}: {run.sent} writes ({failed}) in {seconds:.0f} s; queue length during load: "
          f"max {max(totals, default=0)}, mean {statistics.fmean(totals) if totals else 0:.1f}, at its end "
          f"{sum(last[1].values())}; peak per queue {peak}; intake backlog at load end {last[2]}; drain after load "
          f"{drain}; {run.checkpoints} checkpoints for {run.entries} entries"
          + (f"; {run.jobs_published} per-write jobs published" if run.jobs_published else ""))
    return {"max": float(max(totals, default=0)), "drain": run.drain_seconds if run.drain_seconds is not None
            else DRAIN_TIMEOUT}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("MAESTRO_REDIS_URL"):
        sys.exit("this benchmark needs Redis: set MAESTRO_REDIS_URL=redis://…")
    os.environ["MAESTRO_ENV"] = "test"
    os.environ["MAESTRO_CHANNELS_PREFIX"] = PREFIX
    use_bench_database(DB_NAME)
    token, project_id, tenant_id = prepare()
    results = {}
    try:
        for name, baseline in (("baseline", True), ("maestro", False)):
            run = measure(name, token=token, project_id=project_id, tenant_id=tenant_id, rate=args.rate,
                          seconds=args.seconds, concurrency=args.concurrency, baseline=baseline)
            results[name] = report(run, args.seconds)
    finally:
        drop_bench_database(DB_NAME)
    base, ours = results["baseline"], results["maestro"]
    print(f"    ratio: peak queue length {base['max'] / max(ours['max'], 1):.1f}x shorter, drain "
          f"{base['drain'] / max(ours['drain'], 0.1):.1f}x faster (baseline / maestro)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
