"""Read throughput of ``GET /api/tasks/{id}`` at 100k tasks (DESIGN §9: ≥ 1,500 req/s on 2
cores), next to the raw library doing the same reads in the same run, and the web process's
memory (DESIGN §9: RSS ≤ 250 MiB at 100k tasks, no per-request growth).

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/read_api.py

Both servers are uvicorn with ``--workers 2`` (one per core) on a loopback port:
- **maestro**: ``maestro.asgi`` as deployed — middleware, token authentication, tenancy, DRF,
  the selector's queries (token, membership, task, timeline, subtasks, session links);
- **raw**: a bare ASGI app running the same five reads (all but the membership) with psycopg
  on one connection per worker, and ``json.dumps``: the floor any Python stack pays here.
The load comes from this process: asyncio keep-alive HTTP/1.1 connections, random task ids,
a warm-up, then a fixed duration. The load generator shares the machine's two cores with the
servers and PostgreSQL, so absolute figures are lower than a server alone would reach; the
ratio is measured under the same handicap. Options: --tasks 100000 --seconds 15
--connections 32 --check (exit 1 when under 1,500 req/s or over 250 MiB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import ROOT, drop_bench_database, percentile, use_bench_database  # noqa: E402

DB_NAME = "maestro_bench_read"

RAW_APP = r'''
import json, os
import psycopg

TASK = ("SELECT id, project_id, parent_id, title, description, initial_prompt, status, priority, skill_ids, "
        "agent_ids, dependencies, created_at, updated_at, started_at, completed_at FROM orchestration_task "
        "WHERE tenant_id = %s AND id = %s")
_conn = None


def conn():
    global _conn
    if _conn is None:
        _conn = psycopg.connect(os.environ["BENCH_DSN"], autocommit=True)
    return _conn


def ms(v):
    return None if v is None else int(v.timestamp() * 1000)


def read(token_hash, task_id):
    c = conn()
    tok = c.execute("SELECT t.tenant_id, u.is_active FROM tenancy_apitoken t JOIN auth_user u ON u.id = t.user_id "
                    "WHERE t.key_hash = %s AND t.revoked_at IS NULL", [token_hash]).fetchone()
    if tok is None or not tok[1]:
        return 401, {"error": True}
    row = c.execute(TASK, [tok[0], task_id]).fetchone()
    if row is None:
        return 404, {"error": True}
    timeline = c.execute("SELECT id, type, timestamp, message, session_id FROM orchestration_tasktimelineevent "
                         "WHERE task_id = %s ORDER BY timestamp, pk_id", [task_id]).fetchall()
    subtasks = c.execute("SELECT id, title FROM orchestration_subtask WHERE task_id = %s", [task_id]).fetchall()
    links = c.execute("SELECT session_id FROM orchestration_sessiontask WHERE task_id = %s", [task_id]).fetchall()
    return 200, {"id": row[0], "projectId": row[1], "parentId": row[2], "title": row[3], "description": row[4],
                 "initialPrompt": row[5], "status": row[6], "priority": row[7], "sessionIds": [l[0] for l in links],
                 "skillIds": row[8], "agentIds": row[9], "dependencies": row[10],
                 "subtasks": [{"id": s[0], "title": s[1]} for s in subtasks],
                 "timeline": [{"id": e[0], "type": e[1], "timestamp": ms(e[2]), "message": e[3]} for e in timeline],
                 "createdAt": ms(row[11]), "updatedAt": ms(row[12]), "startedAt": ms(row[13]),
                 "completedAt": ms(row[14])}


async def app(scope, receive, send):
    import asyncio, hashlib
    headers = dict(scope["headers"])
    raw = headers.get(b"authorization", b"")[7:].decode()
    task_id = scope["path"].rsplit("/", 1)[-1]
    status, body = await asyncio.to_thread(read, hashlib.sha256(raw.encode()).hexdigest(), task_id)
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(app: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2", "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
                            cwd=cwd, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{app} did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def children_rss_mib(proc: subprocess.Popen[bytes]) -> list[float]:
    """RSS of uvicorn's worker processes (the children of the supervisor)."""
    out = subprocess.run(["ps", "--ppid", str(proc.pid), "-o", "rss="], capture_output=True, text=True).stdout
    return [int(x) / 1024 for x in out.split()]


async def _connection(port: int, token: str, ids: list[str], stop_at: float, latencies: list[float],
                      statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random()
    try:
        while time.perf_counter() < stop_at:
            request = (f"GET /api/tasks/{rnd.choice(ids)} HTTP/1.1\r\nHost: bench\r\n"
                       f"Authorization: Bearer {token}\r\n\r\n").encode()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def load(port: int, token: str, ids: list[str], seconds: float, connections: int) -> tuple[float, list[float],
                                                                                                 dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    await asyncio.gather(*(_connection(port, token, ids, start + seconds, latencies, statuses)
                           for _ in range(connections)))
    return len(latencies) / (time.perf_counter() - start), latencies, statuses


def measure(name: str, proc: subprocess.Popen[bytes], port: int, token: str, ids: list[str],
            args: argparse.Namespace) -> dict[str, float]:
    asyncio.run(load(port, token, ids, 3, args.connections))  # warm-up: imports, connections, caches
    rss_before = children_rss_mib(proc)
    rate, latencies, statuses = asyncio.run(load(port, token, ids, args.seconds, args.connections))
    rss_after = children_rss_mib(proc)
    if set(statuses) != {200}:
        raise SystemExit(f"{name}: unexpected statuses {statuses}")
    row = {"rate": rate, "p50": statistics.median(latencies), "p99": percentile(latencies, 99),
           "rss": max(rss_after), "growth": max(a - b for a, b in zip(rss_after, rss_before, strict=False))}
    print(f"{name:>8}: {rate:8.0f} req/s   p50 {row['p50']:6.1f} ms   p99 {row['p99']:6.1f} ms   "
          f"worker RSS {' / '.join(f'{r:.0f}' for r in rss_after)} MiB "
          f"(+{row['growth']:.1f} MiB over {len(latencies)} requests)", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    url = use_bench_database(DB_NAME)
    from django.db import connection
    from task_create import fill_maestro

    from maestro.core.actors import Actor
    from maestro.tenancy.services import default_tenant, user_with_token
    from orchestration.work.models import Task
    from orchestration.work.services.projects import project_create

    tenant = default_tenant()
    actor = Actor.system("bench")
    token = user_with_token(username="bench", tenant_slug=tenant.slug, role="viewer", actor=actor)
    project = project_create(tenant=tenant, actor=actor, name="bench")
    fill_maestro(tenant, project, args.tasks)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    ids = list(Task.objects.filter(tenant=tenant).values_list("id", flat=True))
    connection.close()
    print(f"{len(ids)} tasks; {args.connections} keep-alive connections for {args.seconds:.0f} s per server",
          flush=True)

    env = {**os.environ, "MAESTRO_DATABASE_URL": url, "MAESTRO_ENV": "dev", "MAESTRO_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    env.pop("MAESTRO_REDIS_URL", None)  # reads need neither the layer nor the broker
    rows = {}
    try:
        port = free_port()
        proc = start_server("maestro.asgi:application", port, env, ROOT)
        try:
            rows["maestro"] = measure("maestro", proc, port, token, ids, args)
        finally:
            stop_server(proc)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "raw_app.py").write_text(RAW_APP)
            dsn = url.replace("postgres://", "postgresql://", 1)
            port = free_port()
            proc = start_server("raw_app:app", port, {**env, "BENCH_DSN": dsn, "PYTHONPATH": tmp}, Path(tmp))
            try:
                rows["raw"] = measure("raw", proc, port, token, ids, args)
            finally:
                stop_server(proc)
    finally:
        drop_bench_database(DB_NAME)
    m, raw = rows["maestro"], rows["raw"]
    print(f"\nmaestro/raw throughput {m['rate'] / raw['rate']:.2f}x; budget ≥ 1,500 req/s: "
          f"{'met' if m['rate'] >= 1500 else 'NOT met'}; worker RSS {m['rss']:.0f} MiB (budget ≤ 250)")
    if args.check and (m["rate"] < 1500 or m["rss"] > 250):
        print("FAIL: read budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
