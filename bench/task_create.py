"""Create-task latency through the API at 1k, 10k and 100k existing tasks (DESIGN §9: flat,
≤ 1.3× from 1k to 100k), next to the old store's algorithm — one JSON file per entity, every
entity saved on each write — run in the same process on the same sizes.

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/task_create.py

Maestro's figure is measured through the full HTTP stack in-process (middleware, token auth,
DRF validation, the service with its audit row, ledger intake and event, commit, and — no broker
being configured — the ledger sequencer run inline after the commit, which a worker does in
production, so the figure is an upper bound). Options:
--sizes 1000,10000,100000  --samples 200  --baseline-samples 3  --check (exit 1 if over budget)."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import drop_bench_database, percentile, use_bench_database  # noqa: E402

DB_NAME = "maestro_bench_task_create"


class LegacySaveEverythingStore:
    """The old store's write path: the whole in-memory state is written back, one JSON file
    per entity, on every mutation."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tasks: dict[str, dict] = {}

    def create_task(self, task: dict) -> None:
        self.tasks[task["id"]] = task
        self._save_all()

    def _save_all(self) -> None:
        for task in self.tasks.values():
            d = self.root / "tasks" / task["projectId"]
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{task['id']}.json").write_text(json.dumps(task, indent=2))


def legacy_task(i: int) -> dict:
    now = int(time.time() * 1000)
    return {"id": f"task_{now}_{i:09d}", "projectId": "proj_bench", "parentId": None, "title": f"Task {i}",
            "description": "", "initialPrompt": "", "status": "pending", "priority": "medium",
            "createdAt": now, "updatedAt": now, "timeline": [{"id": f"evt_{i}", "type": "created",
            "timestamp": now, "message": "Task created"}], "sessionIds": [], "skillIds": [], "agentIds": []}


def fill_maestro(tenant, project, upto: int) -> None:  # type: ignore[no-untyped-def]
    """Bulk-inserts tasks directly (the fill is set-up, not what is measured)."""
    from orchestration.work.ids import new_id
    from orchestration.work.models import Task

    have = Task.objects.filter(project=project).count()
    base = datetime.now(UTC) - timedelta(days=30)
    batch = []
    for i in range(have, upto):
        t = base + timedelta(milliseconds=i)
        batch.append(Task(id=new_id("task") + f"{i:x}"[-3:], tenant=tenant, project=project, title=f"Task {i}",
                          created_at=t, updated_at=t))
        if len(batch) == 5000:
            Task.objects.bulk_create(batch)
            batch = []
    Task.objects.bulk_create(batch)


def measure_maestro(client, project_id: str, samples: int) -> list[float]:  # type: ignore[no-untyped-def]
    latencies = []
    for i in range(samples):
        body = json.dumps({"projectId": project_id, "title": f"bench {i}", "priority": "high"})
        start = time.perf_counter()
        response = client.post("/api/tasks", body, content_type="application/json")
        latencies.append((time.perf_counter() - start) * 1000)
        if response.status_code != 201:
            raise SystemExit(f"create failed: {response.status_code} {response.content[:200]!r}")
    return latencies


def measure_legacy(size: int, samples: int) -> list[float]:
    root = Path(tempfile.mkdtemp(prefix="maestro-legacy-bench-"))
    try:
        store = LegacySaveEverythingStore(root)
        for i in range(size):
            store.tasks[f"seed{i}"] = {**legacy_task(i), "id": f"task_seed_{i}"}
        store._save_all()  # the files exist before we measure, as they would on disk
        latencies = []
        for i in range(samples):
            start = time.perf_counter()
            store.create_task(legacy_task(size + i))
            latencies.append((time.perf_counter() - start) * 1000)
        return latencies
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--baseline-samples", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    use_bench_database(DB_NAME)
    from django.test import Client

    from maestro.core.actors import Actor
    from maestro.tenancy.services import default_tenant, user_with_token
    from orchestration.work.services.projects import project_create

    tenant = default_tenant()
    token = user_with_token(username="bench", tenant_slug=tenant.slug, role="operator", actor=Actor.system("bench"))
    project = project_create(tenant=tenant, actor=Actor.system("bench"), name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    measure_maestro(client, project.id, 50)  # warm-up: imports, connection, caches

    rows = []
    try:
        for size in sizes:
            fill_maestro(tenant, project, size)
            from django.db import connection

            with connection.cursor() as cur:
                cur.execute("ANALYZE")
            m = measure_maestro(client, project.id, args.samples)
            legacy = measure_legacy(size, args.baseline_samples)
            rows.append((size, statistics.median(m), percentile(m, 95), statistics.median(legacy)))
            print(f"{size:>7} tasks  maestro p50 {rows[-1][1]:7.2f} ms  p95 {rows[-1][2]:7.2f} ms   "
                  f"old save-everything p50 {rows[-1][3]:9.1f} ms   old/maestro {rows[-1][3] / rows[-1][1]:8.1f}x",
                  flush=True)
    finally:
        drop_bench_database(DB_NAME)
    growth = rows[-1][1] / rows[0][1]
    legacy_growth = rows[-1][3] / rows[0][3]
    print(f"\nlatency growth {sizes[0]}→{sizes[-1]}: maestro {growth:.2f}x (budget ≤ 1.30x), "
          f"old store {legacy_growth:.1f}x")
    if args.check and growth > 1.3:
        print("FAIL: task create latency is not flat", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
