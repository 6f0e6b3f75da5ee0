"""Ledger benchmark (DESIGN §9): sequenced entries/s and intake latency on PostgreSQL, side by
side with the old per-entry transaction (``BEGIN → SELECT last → INSERT → COMMIT``) in the
same run.

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ledger.py [--check]

Creates (and afterwards drops) its own database ``maestro_bench_ledger``, runs the migrations,
then measures:

1. baseline: the old ProvenanceLedgerV2 write — one transaction per entry that reads the
   tenant's last entry ``FOR UPDATE``, hashes (same JCS + SHA-256 work as the new path, so the
   ratio measures the architecture, not the old hashing bug), inserts and commits;
2. intake: writer processes appending in their own transactions while a sequencer process
   drains concurrently (intake latency p50/p99, and the sustained end-to-end rate);
3. sequencer: draining a preloaded backlog in batches (entries/s), with the time per phase
   (and ``--profile``: the top functions by cumulative time);
4. end to end through the API (needs ``MAESTRO_REDIS_URL``): real ``bin/web`` (2 workers) and
   ``bin/worker`` (2 processes); ``--api-clients`` threads post ``--api-batches`` batches of
   ``--api-batch`` entries to ``POST /api/ledger/entries/batch`` until every entry is
   sequenced (entries/s, and the ratio to the baseline of step 1), then ``--single-clients``
   clients append one entry at a time to ``POST /api/ledger/entries`` (p50/p99).

``--check`` exits 1 when a budget is missed: ≥ 30,000 entries/s and ≥ 20× baseline (sequencing,
and end to end through the API), intake p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _db import cpu_mark, cpu_us_each, family, postgres_pids, stop_processes  # noqa: E402

DB_NAME = os.environ.get("MAESTRO_BENCH_DB", "maestro_bench_ledger")  # a name of its own per concurrent run


def _bench_url(server_url: str) -> str:
    parsed = urlparse(server_url)
    return urlunparse(parsed._replace(path=f"/{DB_NAME}"))


def _setup_django(url: str) -> None:
    os.environ["MAESTRO_DATABASE_URL"] = url
    os.environ.setdefault("MAESTRO_ENV", "test")
    # Committed batches write their signed checkpoints to the archive: a throwaway one, shared
    # with the writer and sequencer processes (they inherit the environment), never var/archive.
    os.environ.setdefault("MAESTRO_ARCHIVE_URL", Path(tempfile.mkdtemp(prefix="maestro-bench-archive-")).as_uri())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
    import django

    django.setup()


def _recreate_database(server_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    parsed = urlparse(server_url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {DB_NAME}")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- 1. baseline --------------------------------------------------------------------------

OLD_TABLE = """
CREATE TABLE IF NOT EXISTS bench_old_ledger (
    id bigserial PRIMARY KEY, entry_id uuid NOT NULL UNIQUE, tenant_id integer NOT NULL,
    sequence_number bigint NOT NULL, previous_hash char(64) NOT NULL, current_hash char(64) NOT NULL,
    timestamp timestamptz NOT NULL, action_type varchar(100) NOT NULL, resource_type varchar(100) NOT NULL,
    resource_id varchar(200) NOT NULL, actor_id varchar(200) NOT NULL, actor_type varchar(16) NOT NULL,
    payload jsonb NOT NULL, metadata jsonb NOT NULL, UNIQUE (tenant_id, sequence_number))
"""


def _payload(i: int) -> dict:
    return {"details": f"Created task {i} in project Payments", "status": "allowed", "policyId": "", "auditId": i}


def _metadata(i: int) -> dict:
    return {"requestId": f"req-{i:012d}", "auditId": i}


def baseline(tenant_id: int, n: int, threads: int) -> dict:
    """The old append: the caller's transaction does all the chain work under the tenant's
    last row lock, so every writer of the tenant waits for every other."""
    import uuid

    from django.db import IntegrityError, connection, transaction
    from django.utils import timezone

    from ledger.hashing import GENESIS_HASH, entry_hash, payload_hash

    with connection.cursor() as cur:
        cur.execute(OLD_TABLE)
        cur.execute("TRUNCATE bench_old_ledger")
    latencies: list[float] = []
    retries = [0]
    lock = threading.Lock()

    def append_one(i: int) -> None:
        while True:
            t0 = time.perf_counter()
            try:
                with transaction.atomic(), connection.cursor() as cur:
                    cur.execute("SELECT sequence_number, current_hash FROM bench_old_ledger WHERE tenant_id = %s "
                                "ORDER BY sequence_number DESC LIMIT 1 FOR UPDATE", [tenant_id])
                    row = cur.fetchone()
                    seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
                    eid, now, payload, meta = uuid.uuid4(), timezone.now(), _payload(i), _metadata(i)
                    ph = payload_hash(payload)
                    current = entry_hash(id=eid, tenant_id=tenant_id, sequence_number=seq, previous_hash=prev,
                                         timestamp=now, action_type="task.create", resource_type="task",
                                         resource_id=f"task_{i}", actor_id="bench", actor_type="api",
                                         payload_hash=ph, metadata=meta)
                    cur.execute("INSERT INTO bench_old_ledger (entry_id, tenant_id, sequence_number, previous_hash, "
                                "current_hash, timestamp, action_type, resource_type, resource_id, actor_id, "
                                "actor_type, payload, metadata) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                                [eid, tenant_id, seq, prev, current, now, "task.create", "task", f"task_{i}",
                                 "bench", "api", json.dumps(payload), json.dumps(meta)])
            except IntegrityError:
                with lock:
                    retries[0] += 1  # two writers read the same "last" row: the old code retried
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)
            return

    def worker(indices: range) -> None:
        try:
            for i in indices:
                append_one(i)
        finally:
            connection.close()

    per = n // threads
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(range(k * per, (k + 1) * per),)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    return {"entries": per * threads, "threads": threads, "seconds": elapsed, "rate": per * threads / elapsed,
            "p50_ms": _pct(latencies, 0.5) * 1000, "p99_ms": _pct(latencies, 0.99) * 1000, "retries": retries[0]}


# ---- 2. intake while sequencing -----------------------------------------------------------

def _sequencer_process(url: str, tenant_id: int, batch_size: int, stop_path: str) -> None:
    _setup_django(url)
    from ledger.sequencer import sequence_tenant

    while not os.path.exists(stop_path):
        if sequence_tenant(tenant_id=tenant_id, batch_size=batch_size) == 0:
            time.sleep(0.002)


def _writer_process(url: str, tenant_id: int, k: int, count: int, rate: float, out_path: str) -> None:
    """One caller (a web or worker process): each append is its own short transaction, issued
    on a fixed schedule (``rate`` per second, open loop) the way requests arrive."""
    _setup_django(url)
    from django.db import transaction

    from ledger.services import intake_add
    from maestro.tenancy.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    for i in range(20):  # warm up: connection, imports, caches
        with transaction.atomic():
            intake_add(tenant_id=tenant.pk, action_type="warm.up", resource_type="task", resource_id=f"w{k}-{i}",
                       actor_id="bench", actor_type="api", payload={}, metadata={})
    calls, txns = [], []
    began = time.time()
    start = time.perf_counter()
    for i in range(count):
        n = k * count + i
        pause = start + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        t0 = time.perf_counter()
        with transaction.atomic():
            t1 = time.perf_counter()
            intake_add(tenant_id=tenant.pk, action_type="task.create", resource_type="task", resource_id=f"task_{n}",
                       actor_id="bench", actor_type="api", payload=_payload(n), metadata=_metadata(n))
            calls.append(time.perf_counter() - t1)
        txns.append(time.perf_counter() - t0)
    Path(out_path).write_text(json.dumps({"calls": calls, "txns": txns, "began": began, "ended": time.time()}))


def intake(tenant_id: int, url: str, *, writers: int, per_writer: int, rate: float, batch_size: int,
           tmp: Path) -> dict:
    """Writer processes append while a sequencer process drains: intake latency as callers see
    it, and the end-to-end rate."""
    from ledger.models import IntakeEntry, LedgerEntry

    ctx = multiprocessing.get_context("spawn")
    stop = tmp / "stop"
    sequencer = ctx.Process(target=_sequencer_process, args=(url, tenant_id, batch_size, str(stop)))
    sequencer.start()
    outs = [tmp / f"writer-{k}.json" for k in range(writers)]
    procs = [ctx.Process(target=_writer_process, args=(url, tenant_id, k, per_writer, rate / writers, str(out)))
             for k, out in enumerate(outs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    while IntakeEntry.objects.filter(tenant_id=tenant_id).exists():
        time.sleep(0.005)
    drained_at = time.time()
    stop.write_text("done")
    sequencer.join()
    calls, txns, began, ended = [], [], [], []
    for out in outs:
        data = json.loads(out.read_text())
        calls += data["calls"]
        txns += data["txns"]
        began.append(data["began"])
        ended.append(data["ended"])
    written, drained = max(ended) - min(began), drained_at - min(began)
    total = writers * per_writer
    assert LedgerEntry.objects.filter(tenant_id=tenant_id).count() == total + writers * 20
    return {"appends": total, "writers": writers, "append_rate": total / written, "end_to_end_rate": total / drained,
            "call_p50_ms": _pct(calls, 0.5) * 1000, "call_p99_ms": _pct(calls, 0.99) * 1000,
            "txn_p50_ms": _pct(txns, 0.5) * 1000, "txn_p99_ms": _pct(txns, 0.99) * 1000}


# ---- 3. sequencer drain -------------------------------------------------------------------

def preload(tenant_id: int, n: int) -> None:
    """Fill the intake quickly (COPY), with rows exactly as intake_add prepares them."""
    from django.db import connection, transaction

    from ledger.services import intake_prepare

    cols = ("id", "tenant_id", "timestamp", "action_type", "resource_type", "resource_id", "actor_id", "actor_type",
            "payload_hash", "payload_jcs", "metadata", "entry_template", "client_id")
    with transaction.atomic(), connection.cursor() as cur:
        with cur.cursor.copy(f"COPY ledger_intakeentry ({', '.join(cols)}) FROM STDIN") as copy:
            for i in range(n):
                e = intake_prepare(tenant_id=tenant_id, action_type="task.create", resource_type="task",
                                   resource_id=f"task_{i}", actor_id="bench", actor_type="api", payload=_payload(i),
                                   metadata=_metadata(i))
                copy.write_row((e.id, tenant_id, e.timestamp, e.action_type, e.resource_type, e.resource_id,
                                e.actor_id, e.actor_type, e.payload_hash, e.payload_jcs, json.dumps(e.metadata),
                                e.entry_template, False))
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE ledger_intakeentry")


def drain(tenant_id: int, batch_size: int, profile: bool) -> dict:
    from ledger.models import IntakeEntry
    from ledger.sequencer import sequence_batch

    phases: dict[str, float] = {}
    total = batches = 0
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    while True:
        result = sequence_batch(tenant_id=tenant_id, batch_size=batch_size)
        if not result.count:
            break
        total += result.count
        batches += 1
        for k, v in result.timings.items():
            phases[k] = phases.get(k, 0.0) + v
    elapsed = time.perf_counter() - started
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    assert not IntakeEntry.objects.filter(tenant_id=tenant_id).exists()
    return {"entries": total, "batches": batches, "batch_size": batch_size, "seconds": elapsed,
            "rate": total / elapsed, "phases": {k: v / elapsed for k, v in sorted(phases.items(), key=lambda x: -x[1])}}


# ---- 4. end to end through the API ------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_processes(url: str, redis_url: str, port: int, tmp: Path) -> list[Any]:
    """Real ``bin/web`` (2 workers) and ``bin/worker`` (2 processes), as deployed."""
    import socket
    import subprocess

    env = {**os.environ, "MAESTRO_DATABASE_URL": url, "MAESTRO_REDIS_URL": redis_url, "MAESTRO_ENV": "dev",
           "MAESTRO_HOST": "127.0.0.1", "MAESTRO_PORT": str(port), "MAESTRO_WEB_WORKERS": "2",
           "MAESTRO_WORKER_CONCURRENCY": "2", "MAESTRO_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
           "MAESTRO_CHANNELS_PREFIX": f"bench{os.getpid()}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    logs = [open(tmp / f"{name}.log", "wb") for name in ("web", "worker")]  # noqa: SIM115 — closed with the processes
    procs = [subprocess.Popen([sys.executable, "-m", "maestro.processes", name], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
             for name, log in zip(("web", "worker"), logs, strict=True)]
    deadline = time.time() + 90
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(1)  # both web workers listening
                return procs
        time.sleep(0.2)
    raise SystemExit(f"bin/web did not start: {(tmp / 'web.log').read_text()[-2000:]}")


def _post_all(port: int, token: str, path: str, bodies: list[bytes], latencies: list[float],
              statuses: dict[int, int], lock: threading.Lock) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        for body in bodies:
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                latencies.append(time.perf_counter() - t0)
                statuses[response.status] = statuses.get(response.status, 0) + 1
    finally:
        conn.close()


def _clients(port: int, token: str, path: str, per_client: list[list[bytes]]) -> tuple[float, list[float],
                                                                                          dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    pool = [threading.Thread(target=_post_all, args=(port, token, path, bodies, latencies, statuses, lock))
            for bodies in per_client]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, latencies, statuses


def _wait_sequenced(tenant_id: int, total: int, timeout: float = 600) -> float:
    from django.db import connection

    from ledger.models import LedgerEntry

    deadline = time.perf_counter() + timeout
    while LedgerEntry.objects.filter(tenant_id=tenant_id).count() < total:
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {LedgerEntry.objects.filter(tenant_id=tenant_id).count()} of {total} sequenced")
        time.sleep(0.02)
    connection.close()
    return time.perf_counter()


def _entry(k: int, i: int) -> dict[str, Any]:
    return {"actionType": "task.create", "resourceType": "task", "resourceId": f"task_{k}_{i}", "actorId": "agent",
            "payload": _payload(i), "metadata": _metadata(i)}


def through_api(url: str, redis_url: str, *, clients: int, batches: int, batch: int, singles_clients: int,
                singles_seconds: float, tmp: Path) -> dict[str, Any]:
    """Batches posted over HTTP by ``clients`` threads to real bin/web + bin/worker until every
    entry is sequenced; then single appends from ``singles_clients`` clients (latency p50/p99)."""
    from maestro.core.actors import Actor
    from maestro.tenancy.models import Tenant
    from maestro.tenancy.services import user_with_token

    token = user_with_token(username="bench-api", tenant_slug="bench-api", role="operator",
                            actor=Actor.system("bench"))
    tenant_id = Tenant.objects.get(slug="bench-api").pk
    port = _free_port()
    procs = _start_processes(url, redis_url, port, tmp)
    try:
        # warm-up (imports, connections, the worker's first job), sequenced before the clock starts
        warm = [json.dumps([_entry(-1 - c, i) for i in range(batch)]).encode() for c in range(clients)]
        _clients(port, token, "/api/ledger/entries/batch", [[b] for b in warm])
        done = _wait_sequenced(tenant_id, clients * batch)
        per_client = [[json.dumps([_entry(c * batches + b, i) for i in range(batch)]).encode()
                       for b in range(batches // clients)] for c in range(clients)]
        total = clients * (batches // clients) * batch
        sides = {"web": family(procs[0]), "worker": family(procs[1]), "postgres": postgres_pids()}
        mark = cpu_mark(sides)
        started = time.perf_counter()
        posted, latencies, statuses = _clients(port, token, "/api/ledger/entries/batch", per_client)
        done = _wait_sequenced(tenant_id, clients * batch + total)
        cpu = cpu_us_each(sides, mark, total)
        if set(statuses) != {202}:
            raise SystemExit(f"batch appends answered {statuses}")
        result = {"entries": total, "batches": clients * (batches // clients), "clients": clients,
                  "accepted_rate": total / posted, "rate": total / (done - started), "cpu_us": cpu,
                  "batch_p50_ms": _pct(latencies, 0.5) * 1000, "batch_p99_ms": _pct(latencies, 0.99) * 1000}
        # single appends: each client posts one entry at a time for singles_seconds
        have = clients * batch + total
        per_single = max(1, int(singles_seconds * 40))  # about 40 appends/s a client
        bodies = [[json.dumps(_entry(10**6 + c, i)).encode() for i in range(per_single)]
                  for c in range(singles_clients)]
        singles = singles_clients * per_single
        mark = cpu_mark(sides)
        started = time.perf_counter()
        posted, latencies, statuses = _clients(port, token, "/api/ledger/entries", bodies)
        done = _wait_sequenced(tenant_id, have + singles)
        singles_cpu = cpu_us_each(sides, mark, singles)
        if set(statuses) != {202}:
            raise SystemExit(f"single appends answered {statuses}")
        result.update(singles=singles, singles_clients=singles_clients, singles_cpu_us=singles_cpu,
                      singles_rate=singles / posted, singles_sequenced_rate=singles / (done - started),
                      single_p50_ms=_pct(latencies, 0.5) * 1000, single_p99_ms=_pct(latencies, 0.99) * 1000)
        return result
    finally:
        stop_processes(procs, timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=150_000, help="backlog drained by the sequencer")
    parser.add_argument("--batch-size", type=int, default=None, help="default: MAESTRO_LEDGER_BATCH_SIZE")
    parser.add_argument("--baseline-entries", type=int, default=3_000)
    parser.add_argument("--baseline-threads", type=int, default=1)
    parser.add_argument("--writers", type=int, default=4, help="writer processes during the intake phase")
    parser.add_argument("--appends-per-writer", type=int, default=1_000)
    parser.add_argument("--intake-rate", type=float, default=1_000, help="appends/s offered by all writers together")
    parser.add_argument("--profile", action="store_true", help="cProfile the drain")
    parser.add_argument("--api-batches", type=int, default=60, help="batches posted end to end (0: skip)")
    parser.add_argument("--api-batch", type=int, default=1000, help="entries per posted batch")
    parser.add_argument("--api-clients", type=int, default=4, help="client threads posting batches")
    parser.add_argument("--single-clients", type=int, default=32, help="clients appending one entry at a time")
    parser.add_argument("--single-seconds", type=float, default=5, help="about how long each appends")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 if a DESIGN §9 budget is missed")
    args = parser.parse_args()

    server = os.environ.get("MAESTRO_DATABASE_URL", "")
    if not server.startswith("postgres"):
        print("set MAESTRO_DATABASE_URL to a PostgreSQL server (postgres://user@host:port/db)", file=sys.stderr)
        return 2
    _recreate_database(server)
    url = _bench_url(server)
    try:
        _setup_django(url)
        from django.core.management import call_command

        from maestro.tenancy.services import tenant_get_or_create

        call_command("migrate", verbosity=0)
        from django.conf import settings

        args.batch_size = args.batch_size or settings.MAESTRO_LEDGER_BATCH_SIZE
        tenant = tenant_get_or_create(slug="bench")
        base = baseline(tenant.pk, args.baseline_entries, args.baseline_threads)
        print(f"baseline  old per-entry txn, {base['threads']} writer(s): {base['rate']:,.0f} entries/s "
              f"(append p50 {base['p50_ms']:.2f} ms, p99 {base['p99_ms']:.2f} ms, {base['retries']} retries)")
        intake_tenant = tenant_get_or_create(slug="bench-intake")
        with tempfile.TemporaryDirectory() as tmp:
            live = intake(intake_tenant.pk, url, writers=args.writers, per_writer=args.appends_per_writer,
                          rate=args.intake_rate, batch_size=args.batch_size, tmp=Path(tmp))
        print(f"intake    {live['writers']} writer processes offering {args.intake_rate:,.0f} appends/s "
              "+ 1 sequencer process: "
              f"intake_add p50 {live['call_p50_ms']:.3f} ms, p99 {live['call_p99_ms']:.3f} ms; "
              f"whole append txn p50 {live['txn_p50_ms']:.3f} ms, p99 {live['txn_p99_ms']:.3f} ms; "
              f"{live['append_rate']:,.0f} appends/s, {live['end_to_end_rate']:,.0f} sequenced/s end to end")
        t0 = time.perf_counter()
        preload(tenant.pk, args.entries)
        print(f"preload   {args.entries:,} intake rows in {time.perf_counter() - t0:.1f} s")
        seq = drain(tenant.pk, args.batch_size, args.profile)
        ratio = seq["rate"] / base["rate"]
        print(f"sequencer {seq['entries']:,} entries in {seq['batches']} batches of {seq['batch_size']:,}: "
              f"{seq['rate']:,.0f} entries/s = {ratio:.1f}x baseline")
        print("          time per phase: " + ", ".join(f"{k} {v:.0%}" for k, v in seq["phases"].items()))
        verdicts = {
            "sequencing >= 30,000 entries/s": seq["rate"] >= 30_000,
            "sequencing >= 20x baseline": ratio >= 20,
            "intake p99 <= 5 ms": live["call_p99_ms"] <= 5,
        }
        redis_url = os.environ.get("MAESTRO_REDIS_URL", "")
        if args.api_batches and not redis_url:
            print("api       skipped: the end-to-end run needs MAESTRO_REDIS_URL (bin/worker's broker)")
        elif args.api_batches:
            with tempfile.TemporaryDirectory() as tmp:
                api = through_api(url, redis_url, clients=args.api_clients, batches=args.api_batches,
                                  batch=args.api_batch, singles_clients=args.single_clients,
                                  singles_seconds=args.single_seconds, tmp=Path(tmp))
            api_ratio = api["rate"] / base["rate"]
            print(f"api       {api['batches']} batches of {args.api_batch:,} posted by {api['clients']} clients to "
                  f"POST /api/ledger/entries/batch (bin/web 2 workers, bin/worker 2 processes): "
                  f"{api['accepted_rate']:,.0f} entries/s accepted, {api['rate']:,.0f} entries/s accepted and "
                  f"sequenced end to end = {api_ratio:.1f}x baseline (batch p50 {api['batch_p50_ms']:.0f} ms, "
                  f"p99 {api['batch_p99_ms']:.0f} ms)")
            print("api       CPU an entry: " + ", ".join(f"{side} {us:.1f} us" for side, us in api["cpu_us"].items())
                  + " (web: intake; worker: sequencing; clients: this process)")
            print(f"api       {api['singles']:,} single appends from {api['singles_clients']} clients to "
                  f"POST /api/ledger/entries: {api['singles_rate']:,.0f} appends/s, p50 {api['single_p50_ms']:.1f} ms, "
                  f"p99 {api['single_p99_ms']:.1f} ms; {api['singles_sequenced_rate']:,.0f} sequenced/s end to end")
            print("api       CPU an append: " + ", ".join(f"{side} {us:,.0f} us"
                                                         for side, us in api["singles_cpu_us"].items()))
            verdicts["through the API >= 30,000 entries/s"] = api["rate"] >= 30_000
            verdicts["through the API >= 20x baseline"] = api_ratio >= 20
        print(f"load average {os.getloadavg()[0]:.1f} (the machine is shared: absolute figures vary, ratios less)")
        for name, ok in verdicts.items():
            print(f"budget    {name}: {'ok' if ok else 'MISSED'}")
        return 1 if args.check and not all(verdicts.values()) else 0
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            _recreate_database(server, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
