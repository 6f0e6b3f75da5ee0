"""The workflow engine's overhead (DESIGN §9 "orchestration"): N concurrent runs of a 10-step
no-op DAG executed by real ``bin/worker`` processes against PostgreSQL and Redis, against the
same number of bare Celery tasks on the same workers.

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    MAESTRO_REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/orchestration.py [--kill]

- **baseline**: ``runs × 10`` messages of Celery's built-in ``celery.accumulate`` (a task that
  returns its argument) published to the steps queue; timed until the queue is empty and no
  message is unacknowledged.
- **maestro**: ``runs`` runs of a 10-step DAG (one root, four branches of two steps, one join)
  created in one transaction, so all are queued at the same commit; timed from that commit
  until every run has finished. ``--kill`` SIGKILLs one worker once a third of the steps ran
  and starts a replacement; ``bin/scheduler`` runs the reaper, which requeues the steps it was
  running once their lease (5 s here) expires, and sends again the messages it had reserved
  (Redis gives a dead worker's unacknowledged messages back only after Celery's visibility
  timeout, an hour) once they waited 10 s.
Afterwards every step is checked: lost (not succeeded) and doubled (succeeded more than once)
steps must be zero. Overhead per step = (maestro time − baseline time) × worker slots / steps,
the worker time the engine adds to each step. Options: --runs 500 --workers 2 --concurrency 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import ROOT, drop_bench_database, stop_processes, use_bench_database  # noqa: E402

DB_NAME = "maestro_bench_orchestration"
PREFIX = "bench-orch"
TIMEOUT = 900.0
SPEC = {"steps": [{"id": "root", "action": "noop"},
                  *({"id": f"b{i}", "action": "noop", "dependsOn": ["root"]} for i in range(4)),
                  *({"id": f"c{i}", "action": "noop", "dependsOn": [f"b{i}"]} for i in range(4)),
                  {"id": "join", "action": "noop", "dependsOn": [f"c{i}" for i in range(4)]}]}


def process_env(concurrency: int) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", "MAESTRO_ENV": "test",
            "MAESTRO_CHANNELS_PREFIX": PREFIX, "MAESTRO_LOG_LEVEL": "WARNING",
            "MAESTRO_WORKER_CONCURRENCY": str(concurrency), "MAESTRO_ENGINE_LEASE_SECONDS": "5",
            "MAESTRO_ENGINE_REAP_INTERVAL": "2", "MAESTRO_WORKER_QUEUES": "steps,periodic",
            "MAESTRO_ENGINE_TENANT_CONCURRENCY": "0", "MAESTRO_ENGINE_RESEND_AFTER_SECONDS": "10"}


def start(command: str, env: dict[str, str], n: int) -> subprocess.Popen[bytes]:
    log = (Path(tempfile.gettempdir()) / f"bench-orch-{command}-{n}.log").open("ab")
    return subprocess.Popen([str(ROOT / "bin" / command)], cwd=ROOT, env=env, stdout=log, stderr=log,
                            start_new_session=True)


def wait_for_workers(count: int) -> None:
    from maestro.celery import app

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0) or []) >= count:
            return
        time.sleep(0.5)
    raise SystemExit("the workers did not start")


def _redis():  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(os.environ["MAESTRO_REDIS_URL"])


def _purge() -> None:
    from maestro.queue import all_queues

    client = _redis()
    try:
        client.delete(*all_queues(), "unacked", "unacked_index")
    finally:
        client.close()


def baseline(messages: int, queue: str) -> float:
    from maestro.celery import app

    client = _redis()
    t0 = time.monotonic()
    with app.producer_or_acquire() as producer:
        for i in range(messages):
            app.send_task("celery.accumulate", args=[i], queue=queue, producer=producer)
    while time.monotonic() - t0 < TIMEOUT:
        if client.llen(queue) == 0 and client.hlen("unacked") == 0:
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - t0
    client.close()
    return elapsed


def engine(runs: int, kill: tuple[list[subprocess.Popen[bytes]], dict[str, str]] | None) -> tuple[float, float]:
    from django.db import transaction

    from maestro.core.actors import Actor
    from maestro.tenancy.services import default_tenant
    from orchestration.engine.models import RunStep
    from orchestration.engine.services import run_start, workflow_create
    from orchestration.runs.models import Run

    tenant = default_tenant()
    actor = Actor.system("bench")
    workflow_create(tenant=tenant, actor=actor, name="dag10", spec_json=SPEC)
    t_create = time.monotonic()
    with transaction.atomic():
        for _ in range(runs):
            run_start(tenant=tenant, actor=actor, workflow="dag10")
    t0 = time.monotonic()
    killed = False
    total = runs * len(SPEC["steps"])
    while time.monotonic() - t0 < TIMEOUT:
        if not Run.objects.exclude(status__in=Run.FINISHED).exists():
            break
        if kill is not None and not killed and RunStep.objects.filter(status="succeeded").count() >= total // 3:
            procs, env = kill
            # noop steps run whole in one transaction each (never seen as running from outside), so
            # the kill lands inside a step's transaction (rolled back: the step stays queued, its
            # message held unacknowledged by the dead worker) or between two; the messages it had
            # reserved come back through the reaper's resend.
            os.killpg(procs[0].pid, signal.SIGKILL)
            procs.append(start("worker", env, len(procs)))
            killed = True
            done = RunStep.objects.filter(status="succeeded").count()
            print(f"   killed worker {procs[0].pid} at {time.monotonic() - t0:.1f} s ({done} of {total} steps "
                  f"done); a replacement started")
            continue
        time.sleep(0.05)
    return time.monotonic() - t0, t0 - t_create


def check() -> dict[str, int]:
    from django.db.models import Count

    from orchestration.engine.models import RunStep, StepTransition
    from orchestration.runs.models import Run

    succeeded = dict(StepTransition.objects.filter(status="succeeded").values_list("step_id")
                     .annotate(n=Count("id")).order_by())
    steps = RunStep.objects.count()
    return {"runs": Run.objects.count(), "runs_succeeded": Run.objects.filter(status="succeeded").count(),
            "steps": steps, "lost": RunStep.objects.exclude(status="succeeded").count(),
            "doubled": sum(1 for n in succeeded.values() if n > 1),
            "reexecuted": RunStep.objects.filter(executions__gt=1).count()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--kill", action="store_true", help="SIGKILL a worker a third of the way through")
    parser.add_argument("--check", action="store_true", help="exit 1 when over budget (10 ms/step, 0 lost/doubled)")
    args = parser.parse_args()
    if not os.environ.get("MAESTRO_REDIS_URL"):
        sys.exit("this benchmark needs Redis: set MAESTRO_REDIS_URL=redis://…")
    os.environ["MAESTRO_ENV"] = "test"
    os.environ["MAESTRO_CHANNELS_PREFIX"] = PREFIX
    use_bench_database(DB_NAME)
    from django.db import connections

    from maestro.queue import Queue, queue_name

    steps_queue = queue_name(Queue.STEPS)
    env = process_env(args.concurrency)
    _purge()
    connections.close_all()
    procs = [start("worker", env, n) for n in range(args.workers)]
    procs.append(start("scheduler", env, 0))
    messages = args.runs * len(SPEC["steps"])
    try:
        wait_for_workers(args.workers)
        base = baseline(messages, steps_queue)
        ours, created = engine(args.runs, (procs, env) if args.kill else None)
        result = check()
    finally:
        stop_processes(procs)
        _purge()
        drop_bench_database(DB_NAME)
    slots = args.workers * args.concurrency
    overhead_ms = (ours - base) * slots / messages * 1000
    print(f" baseline: {messages} bare Celery tasks in {base:.2f} s ({messages / base:.0f} tasks/s)")
    print(f"  maestro: {args.runs} runs x {len(SPEC['steps'])} steps in {ours:.2f} s "
          f"({args.runs / ours:.1f} runs/s, {messages / ours:.0f} steps/s); creating them took {created:.2f} s")
    print(f"    steps: {result}")
    print(f" overhead: {overhead_ms:.1f} ms of worker time per step ({slots} worker slots); "
          f"{ours / base:.1f}x the bare tasks' wall time")
    over = overhead_ms > 10 or result["lost"] or result["doubled"]
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
