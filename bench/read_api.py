"""Read throughput of the API's hot reads next to a bare floor, in one run (DESIGN §9: the task
read ≥ 1,500 req/s on 2 cores and ≥ 60 % of the floor), and the web process's memory (RSS
≤ 250 MiB at 100k tasks, flat over a long run).

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/read_api.py

Reads measured after a warm-up, with ``--connections`` keep-alive HTTP/1.1 connections from this
process (asyncio), random ids, Maestro and the floor in turns (``--rounds`` of ``--seconds``
each, both servers up; medians):

- ``GET /api/tasks/{id}`` at 1k and at 100k tasks;
- ``GET /api/tasks?projectId=…&limit=100``, ``GET /api/events?afterSeq=…`` (100 events a page)
  and ``GET /api/maestro/dashboard``, at 100k tasks;
- then ``--rss-requests`` task reads in a row, with the web workers' RSS before (once each worker has
  used 5 s of CPU) and after.

The floor is a bare ASGI app (uvicorn, same worker count, psycopg on one connection per worker,
``json.dumps``): for the task read it runs the five reads of the row and its relations written
by hand (the token, the task, its timeline, subtasks and session links); for the three other
reads it replays the very SQL Maestro ran for that request (captured here first), so their
ratio is what Maestro's Python costs above its queries. ``--server`` picks how Maestro is
served (see SERVERS; default: ``bin/web``'s layout); ``--servers a,b`` measures several in one run
(``web:4``: ``bin/web`` with 4 threads a process; ``granian-wsgi:1``: 1 blocking thread;
``web-drf``: ``bin/web`` with every read through DRF, ``MAESTRO_LEAN_READS=0``; ``web-uncached``:
``bin/web`` reading the token from the database on every request, ``MAESTRO_TOKEN_CACHE_SECONDS=0``).
The floor reads the token on every request, as Maestro did before it kept tokens.
Next to each rate, the CPU time a request cost each party over the measured seconds (the
server's processes, PostgreSQL's, the load generator's): on a machine shared with other work
the rates move from run to run, the CPU a request costs much less.
The load generator shares the machine's cores with the servers and PostgreSQL: absolute
figures are lower than a server alone would reach; the ratios carry the same handicap.
``--check`` exits 1 when the task read misses 1,500 req/s or 60 % of the floor, a list read
misses 25 %, or RSS exceeds 250 MiB or grows by more than 10 MiB over the long run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import (  # noqa: E402
    ROOT,
    cpu_mark,
    cpu_us_each,
    drop_bench_database,
    family,
    percentile,
    postgres_pids,
    use_bench_database,
)

DB_NAME = os.environ.get("MAESTRO_BENCH_DB", "maestro_bench_read")  # a name of its own per concurrent run
WORKERS = 2  # one per core
THREADS = 8

# How Maestro can be served. "web" is what bin/web runs (maestro.processes.serve): uvicorn, with
# HTTP in a thread pool (maestro.asgi). The others are the candidates measured for that choice.
SERVERS: dict[str, Callable[[int, int], list[str]]] = {
    "web": lambda port, threads: [sys.executable, "-m", "maestro.processes", "web"],
    # bin/web answering every read through DRF (MAESTRO_LEAN_READS=0): the lean reads' baseline
    "web-drf": lambda port, threads: [sys.executable, "-m", "maestro.processes", "web"],
    # bin/web reading the token from the database on every request (MAESTRO_TOKEN_CACHE_SECONDS=0)
    "web-uncached": lambda port, threads: [sys.executable, "-m", "maestro.processes", "web"],
    "uvicorn-django-asgi": lambda port, threads: [
        sys.executable, "-m", "uvicorn", "django_asgi:app", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(WORKERS), "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
    "granian-asgi": lambda port, threads: [
        sys.executable, "-m", "granian", "--interface", "asgi", "maestro.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(WORKERS), "--log-level", "warning"],
    "gunicorn-gthread": lambda port, threads: [
        sys.executable, "-m", "gunicorn", "maestro.wsgi:application", "-b", f"127.0.0.1:{port}", "-k", "gthread",
        "--workers", str(WORKERS), "--threads", str(threads), "--log-level", "warning"],
    "granian-wsgi": lambda port, threads: [
        sys.executable, "-m", "granian", "--interface", "wsgi", "maestro.wsgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(WORKERS), "--blocking-threads", str(threads), "--log-level", "warning"],
}
# The HTTP side as Django's own ASGI handler serves it (the layout before maestro.asgi ran
# HTTP in threads): the baseline the server choice is measured against.
DJANGO_ASGI_APP = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
from django.core.asgi import get_asgi_application
app = get_asgi_application()
"""

RAW_APP = r'''
import json, os
import psycopg

TASK = ("SELECT id, project_id, parent_id, title, description, initial_prompt, status, priority, skill_ids, "
        "agent_ids, dependencies, created_at, updated_at, started_at, completed_at FROM orchestration_task "
        "WHERE tenant_id = %s AND id = %s")
REPLAY = json.loads(open(os.environ["BENCH_REPLAY"]).read())
_conn = None


def conn():
    global _conn
    if _conn is None:
        _conn = psycopg.connect(os.environ["BENCH_DSN"], autocommit=True)
    return _conn


def ms(v):
    return None if v is None else int(v.timestamp() * 1000)


def plain(v):
    return v if v is None or isinstance(v, (str, int, float, bool, list, dict)) else str(v)


def token(c, token_hash):
    tok = c.execute("SELECT t.tenant_id, u.is_active FROM tenancy_apitoken t JOIN auth_user u ON u.id = t.user_id "
                    "WHERE t.key_hash = %s AND t.revoked_at IS NULL", [token_hash]).fetchone()
    return None if tok is None or not tok[1] else tok[0]


def read(token_hash, path):
    c = conn()
    if path in REPLAY:  # the SQL Maestro ran for this very request, rows as JSON
        rows = [[[plain(v) for v in row] for row in c.execute(sql).fetchall()] for sql in REPLAY[path]]
        return 200, rows
    tenant_id = token(c, token_hash)
    if tenant_id is None:
        return 401, {"error": True}
    task_id = path.rsplit("/", 1)[-1]
    row = c.execute(TASK, [tenant_id, task_id]).fetchone()
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
    path = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
    status, body = await asyncio.to_thread(read, hashlib.sha256(raw.encode()).hexdigest(), path)
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(proc: subprocess.Popen[bytes], port: int, name: str) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{name} did not start")


def start(argv: list[str], port: int, env: dict[str, str], cwd: Path, name: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True)
    wait_port(proc, port, name)
    time.sleep(1)  # every worker process listening, not just the first
    return proc


def start_raw(port: int, env: dict[str, str], tmp: Path) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-m", "uvicorn", "raw_app:app", "--host", "127.0.0.1", "--port", str(port),
                  "--workers", str(WORKERS), "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
                 port, {**env, "PYTHONPATH": str(tmp)}, tmp, "raw")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def workers(proc: subprocess.Popen[bytes]) -> list[tuple[float, float]]:
    """(RSS in MiB, CPU seconds used) of each of the server's worker processes: the descendants
    of its supervisor that hold more than 30 MiB (leaving out helpers such as multiprocessing's
    resource tracker)."""
    pids = family(proc) - {proc.pid}
    out = subprocess.run(["ps", "-e", "-o", "pid=,rss=,cputimes="], capture_output=True, text=True).stdout
    rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    found = [(rss / 1024, float(cpu)) for pid, rss, cpu in rows if pid in pids]
    return [w for w in found if w[0] > 30] or found


def workers_rss_mib(proc: subprocess.Popen[bytes]) -> list[float]:
    return [rss for rss, _ in workers(proc)]


async def _connection(port: int, token: str, paths: Callable[[random.Random], str], stop_at: float,
                      budget: list[int], latencies: list[float], statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random()
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            budget[0] -= 1
            request = (f"GET {paths(rnd)} HTTP/1.1\r\nHost: bench\r\n"
                       f"Authorization: Bearer {token}\r\n\r\n").encode()
            start_at = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - start_at) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def load(port: int, token: str, paths: Callable[[random.Random], str], seconds: float, connections: int,
               requests: int = 10**12) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    budget = [requests]
    began = time.perf_counter()
    await asyncio.gather(*(_connection(port, token, paths, began + seconds, budget, latencies, statuses)
                           for _ in range(connections)))
    return len(latencies) / (time.perf_counter() - began), latencies, statuses


def measure(proc: subprocess.Popen[bytes], port: int, token: str, paths: Callable[[random.Random], str],
            args: argparse.Namespace) -> dict[str, float]:
    """One round of ``--seconds`` against a warm server."""
    sides = {"cpu": family(proc), "db": postgres_pids()}
    mark = cpu_mark(sides)
    rate, latencies, statuses = asyncio.run(load(port, token, paths, args.seconds, args.connections))
    spent = cpu_us_each(sides, mark, len(latencies))
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses {statuses}")
    return {"rate": rate, "p50": statistics.median(latencies), "p99": percentile(latencies, 99),
            "cpu": spent["cpu"] / 1000, "db": spent["db"] / 1000, "gen": spent["clients"] / 1000}  # ms a request


Server = tuple[subprocess.Popen[bytes], int]  # the process and its port


def alternated(maestro: Server, bare: Server, token: str, paths: Callable[[random.Random], str],
               args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    """Maestro and the floor measured in turns (``--rounds`` of ``--seconds`` each), both servers
    up: this machine's speed drifts by a third within minutes, so a floor measured minutes after
    Maestro moved the ratio more than any change did. Each figure is the median over the rounds;
    ``ratio`` is the median of each round's Maestro rate over the next floor round's."""
    for _, port in (maestro, bare):
        asyncio.run(load(port, token, paths, 3, args.connections))  # imports, connections, caches
    ours: list[dict[str, float]] = []
    floors: list[dict[str, float]] = []
    for _ in range(args.rounds):
        ours.append(measure(*maestro, token, paths, args))
        floors.append(measure(*bare, token, paths, args))
    m = {key: statistics.median(r[key] for r in ours) for key in ours[0]}
    raw = {key: statistics.median(r[key] for r in floors) for key in floors[0]}
    m["ratio"] = statistics.median(a["rate"] / b["rate"] for a, b in zip(ours, floors, strict=True))
    return m, raw


def line(label: str, m: dict[str, float], raw: dict[str, float]) -> str:
    return (f"{label:<34} {m['rate']:7.0f} req/s  p50 {m['p50']:6.1f}  p99 {m['p99']:6.1f} ms   "
            f"floor {raw['rate']:6.0f} req/s  p50 {raw['p50']:5.1f}  p99 {raw['p99']:6.1f} ms   "
            f"{m['ratio']:5.0%} of floor; CPU ms a request: server {m['cpu']:.2f} "
            f"(floor {raw['cpu']:.2f}), PostgreSQL {m['db']:.2f} ({raw['db']:.2f}), "
            f"load generator {m['gen']:.2f} ({raw['gen']:.2f})")


def capture_sql(token: str, paths: list[str]) -> dict[str, list[str]]:
    """The SQL Maestro runs for each request (after a warm-up request), as sent."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    replay = {}
    for path in paths:
        assert client.get(path).status_code == 200, path
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200, path
        replay[path] = [q["sql"] for q in ctx.captured_queries]
    return replay


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="the first task count measured")
    parser.add_argument("--seconds", type=float, default=5, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="Maestro and the floor in turns, per read")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rss-requests", type=int, default=100_000)
    parser.add_argument("--server", default="web", choices=sorted(SERVERS))
    parser.add_argument("--servers", default="", help="several, comma-separated: the task read only, at --tasks")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    url = use_bench_database(DB_NAME)
    from django.core.management import call_command
    from django.db import connection
    from task_create import fill_maestro

    from maestro.core.actors import Actor
    from maestro.tenancy.services import default_tenant, user_with_token
    from orchestration.work.models import Task
    from orchestration.work.services.projects import project_create
    from orchestration.work.services.tasks import subtask_create, task_create, task_timeline_add

    tenant = default_tenant()
    actor = Actor.system("bench")
    token = user_with_token(username="bench", tenant_slug=tenant.slug, role="viewer", actor=actor)
    call_command("maestro_seed", verbosity=0)
    project = project_create(tenant=tenant, actor=actor, name="bench")
    listed = project_create(tenant=tenant, actor=actor, name="listed")
    # A project of 300 tasks made through the services (so the event log has their events), each
    # with a subtask and a timeline entry: the list and the stream read pages of real rows.
    for i in range(300):
        task = task_create(tenant=tenant, actor=actor, project=listed, title=f"listed {i}")
        subtask_create(tenant=tenant, task_id=task.id, actor=actor, title="s")
        task_timeline_add(tenant=tenant, task_id=task.id, actor=actor, type="update", message="m")
    fill_maestro(tenant, project, args.small)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    env = {**os.environ, "MAESTRO_DATABASE_URL": url, "MAESTRO_ENV": "dev", "MAESTRO_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT), "MAESTRO_WEB_WORKERS": str(WORKERS), "MAESTRO_WEB_THREADS": str(THREADS),
           "MAESTRO_HOST": "127.0.0.1"}
    env.pop("MAESTRO_REDIS_URL", None)  # reads need neither the layer nor the broker
    dsn = url.replace("postgres://", "postgresql://", 1)

    def task_ids() -> list[str]:
        return list(Task.objects.filter(tenant=tenant).values_list("id", flat=True))

    def task_paths(ids: list[str]) -> Callable[[random.Random], str]:
        return lambda rnd: f"/api/tasks/{rnd.choice(ids)}"

    from realtime.selectors import event_stream_head_of

    head = event_stream_head_of(tenant.pk)
    event_paths = [f"/api/events?afterSeq={after}&limit=100" for after in range(0, head - 100, max(1, head // 20))]
    list_paths = [f"/api/tasks?projectId={listed.id}&limit=100", "/api/maestro/dashboard"]
    replay = capture_sql(token, list_paths + event_paths)
    connection.close()
    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-read-"))
    (tmp / "raw_app.py").write_text(RAW_APP)
    (tmp / "django_asgi.py").write_text(DJANGO_ASGI_APP)
    (tmp / "replay.json").write_text(json.dumps(replay))
    raw_env = {**env, "BENCH_DSN": dsn, "BENCH_REPLAY": str(tmp / "replay.json")}
    servers = [s for s in args.servers.split(",") if s] or [args.server]
    for name in servers:
        if name.partition(":")[0] not in SERVERS:
            raise SystemExit(f"unknown server {name!r} (one of {', '.join(sorted(SERVERS))})")
    failed: list[str] = []
    print(f"{args.connections} keep-alive connections, {args.rounds} rounds of {args.seconds:.0f} s per read and "
          f"server, in turns; {WORKERS} workers "
          f"per server; server: {', '.join(servers)}; load average {os.getloadavg()[0]:.1f}", flush=True)

    def maestro(name: str) -> Server:
        port = free_port()
        name, _, threads = name.partition(":")  # "web:4": bin/web with MAESTRO_WEB_THREADS=4
        menv = {**env, "MAESTRO_PORT": str(port), "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp}",
                "MAESTRO_WEB_THREADS": threads or str(THREADS), "MAESTRO_LEAN_READS": "0" if name == "web-drf" else "1",
                "MAESTRO_TOKEN_CACHE_SECONDS": "0" if name == "web-uncached" else "30"}
        return start(SERVERS[name](port, int(threads or THREADS)), port, menv, ROOT, name), port

    def bare() -> Server:
        port = free_port()
        return start_raw(port, raw_env, tmp), port

    def compared(name: str, reads: list[tuple[str, Callable[[random.Random], str]]]
                 ) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
        ours, floor = maestro(name), bare()
        try:
            return {label: alternated(ours, floor, token, paths, args) for label, paths in reads}
        finally:
            stop(ours[0])
            stop(floor[0])

    try:
        if len(servers) > 1:  # the server choice: the task read at --tasks, each server and the floor
            fill_maestro(tenant, project, args.tasks)
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
            reads = [(f"GET /api/tasks/{{id}} ({args.tasks // 1000}k)", task_paths(task_ids()))]
            connection.close()
            for name in servers:
                for label, (m, raw) in compared(name, reads).items():
                    print(line(f"{name}: {label}", m, raw), flush=True)
            return 0
        small = [(f"GET /api/tasks/{{id}} ({len(task_ids()) // 1000}k tasks)", task_paths(task_ids()))]
        connection.close()
        results = compared(servers[0], small)
        fill_maestro(tenant, project, args.tasks)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        ids = task_ids()
        connection.close()
        reads = [(f"GET /api/tasks/{{id}} ({len(ids) // 1000}k tasks)", task_paths(ids)),
                 ("GET /api/tasks?projectId=…&limit=100", lambda rnd: list_paths[0]),
                 ("GET /api/events?afterSeq=…&limit=100", lambda rnd: rnd.choice(event_paths)),
                 ("GET /api/maestro/dashboard", lambda rnd: list_paths[1])]
        results.update(compared(servers[0], reads))
        for label, (m, raw) in results.items():
            print(line(label, m, raw), flush=True)
            ratio = m["ratio"]
            if label.startswith("GET /api/tasks/{id}"):
                if m["rate"] < 1500 or ratio < 0.6:
                    failed.append(label)
            elif ratio < 0.25:
                failed.append(label)
        # Memory: a long run of task reads, the workers' RSS before and after.
        port = free_port()
        name, _, threads = servers[0].partition(":")
        proc = start(SERVERS[name](port, int(threads or THREADS)), port,
                     {**env, "MAESTRO_PORT": str(port), "MAESTRO_WEB_THREADS": threads or str(THREADS)}, ROOT, name)
        try:
            # Warm-up until every worker has used 5 s of CPU (its start-up included; at most 60
            # rounds of 1,000 reads):
            # the kernel hands the connections of a round to the workers unevenly, at times all
            # to one, and a worker's first reads (what they load) counted as growth over the run.
            for _ in range(60):
                asyncio.run(load(port, token, task_paths(ids), 10**9, args.connections, requests=1_000))
                if min(cpu for _, cpu in workers(proc)) >= 5:
                    break
            before = workers_rss_mib(proc)
            began = time.perf_counter()
            rate, _, statuses = asyncio.run(load(port, token, task_paths(ids), 10**9, args.connections,
                                                 requests=args.rss_requests))
            after = workers_rss_mib(proc)
        finally:
            stop(proc)
        if set(statuses) != {200}:
            raise SystemExit(f"unexpected statuses {statuses}")
        growth = max(a - b for a, b in zip(after, before, strict=False))
        print(f"RSS of the {len(after)} web workers over {sum(statuses.values()):,} task reads "
              f"({time.perf_counter() - began:.0f} s, {rate:.0f} req/s, all 200): start "
              f"{' / '.join(f'{r:.0f}' for r in before)} MiB, end {' / '.join(f'{r:.0f}' for r in after)} MiB "
              f"(largest growth {growth:+.1f} MiB)")
        if max(after) > 250 or growth > 10:
            failed.append("memory")
        print(f"load average at the end {os.getloadavg()[0]:.1f}; "
              f"budgets: {'all met' if not failed else 'NOT met: ' + ', '.join(failed)}")
    finally:
        drop_bench_database(DB_NAME)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
