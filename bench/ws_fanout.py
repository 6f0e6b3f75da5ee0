"""WebSocket fan-out (DESIGN §9: 1,000 clients, p99 commit-to-delivery ≤ 250 ms, zero missed
events after reconnect + resume), next to one client through the same path and the raw channel
layer in this process.

    MAESTRO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres MAESTRO_REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/ws_fanout.py [--clients 200 | --full] [--events 40] [--rate 10] [--check]

A uvicorn process serves ``maestro.asgi`` on a loopback port (its own database and channel
prefix); this process connects N WebSocket clients (``websockets``) and causes events with
API POSTs (each commit: ``audit:created`` + ``project:created``). Latency per (client, event)
= arrival time − the envelope's ``timestamp``, which the server stamps just before COMMIT, so
it is commit-to-delivery plus at most the commit itself; both ends share this host's clock.
Then half the clients drop, events happen, they reconnect with ``resume`` and more events
happen: every client must hold every seq exactly once. Baseline: ``group_send`` → ``receive``
on the same channel layer class, N channels, in this process. Last, concurrent writers of one
tenant (threads calling the service): commits/s at 1 vs --writers threads, seqs gapless.

--layer core|pubsub picks the channels_redis layer for both (default: what settings pick);
--ws picks uvicorn's WebSocket implementation (default: what production's ``uvicorn`` picks);
--deflate lets clients negotiate permessage-deflate, as browsers do. The figures on a shared
2-core machine vary run to run: compare several runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import ROOT, drop_bench_database, percentile, use_bench_database  # noqa: E402

DB_NAME = "maestro_bench_ws"
LAYERS = {"core": "channels_redis.core.RedisChannelLayer", "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer"}

# The web process: settings as configured, except the channel layer when --layer asks, and a
# broker nobody reads (the ledger sequencer's pokes must not reach other processes' workers).
SERVER = r"""
import json, os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
from django.conf import settings
override = os.environ.get("BENCH_CHANNEL_LAYERS")
if override:
    settings.CHANNEL_LAYERS = json.loads(override)
settings.CELERY_BROKER_URL = "memory://localhost/"
import uvicorn
uvicorn.run("maestro.asgi:application", host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            lifespan="off", ws=os.environ["BENCH_WS"], ws_ping_interval=None,
            ws_per_message_deflate=os.environ["BENCH_DEFLATE"] == "1")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def layer_config(kind: str | None, prefix: str) -> dict[str, Any]:
    from django.conf import settings

    config = json.loads(json.dumps(settings.CHANNEL_LAYERS["default"]))
    config["CONFIG"]["prefix"] = prefix
    if kind:
        config["BACKEND"] = LAYERS[kind]
    if config["BACKEND"] == LAYERS["pubsub"]:
        for key in ("capacity", "expiry"):
            config["CONFIG"].pop(key, None)
    return config


class Client:
    def __init__(self, url: str, deflate: bool) -> None:
        self.url = url
        self.deflate = deflate
        self.seqs: list[int] = []
        self.latencies: list[float] = []
        self.unexpected: list[dict[str, Any]] = []
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.greeted = asyncio.Event()

    async def open(self, resume_after: int | None = None) -> None:
        from websockets.asyncio.client import connect

        self.greeted = asyncio.Event()
        self.ws = await connect(self.url, open_timeout=60, ping_interval=None, max_size=None,
                                compression="deflate" if self.deflate else None)
        self.reader = asyncio.ensure_future(self._read())
        await self.greeted.wait()
        if resume_after is not None:
            await self.ws.send(json.dumps({"type": "resume", "afterSeq": resume_after}))

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time() * 1000
                message = json.loads(raw)
                if "seq" in message and "event" in message:
                    self.seqs.append(message["seq"])
                    self.latencies.append(now - message["timestamp"])
                elif message["type"] == "connected":
                    self.greeted.set()
                elif message["type"] in ("resync_required", "error"):
                    self.unexpected.append(message)
        except Exception:  # noqa: BLE001 - a closed socket ends the reader
            if self.ws.close_code is None:
                raise

    async def close(self) -> None:
        await self.ws.close()
        if self.reader:
            await asyncio.gather(self.reader, return_exceptions=True)


def post_project(base: str, token: str, name: str) -> None:
    req = urllib.request.Request(f"{base}/api/projects", data=json.dumps({"name": name}).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 201, r.status


def head_of(tenant_id: int) -> int:
    from realtime.selectors import event_stream_head_of

    return event_stream_head_of(tenant_id)


async def cause(base: str, token: str, n: int, rate: float, label: str) -> None:
    for i in range(n):
        started = time.monotonic()
        await asyncio.to_thread(post_project, base, token, f"{label}-{i}")
        await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))


async def wait_for(clients: list[Client], head: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(not c.seqs or c.seqs[-1] < head for c in clients):
        await asyncio.sleep(0.05)


async def open_all(clients: list[Client], parallel: int = 50, resume: dict[int, int] | None = None) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(i: int, c: Client) -> None:
        async with gate:
            await c.open(None if resume is None else resume[i])

    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))


async def fanout(args: argparse.Namespace, base: str, token: str, tenant_id: int) -> dict[str, Any]:
    url = f"{base.replace('http', 'ws', 1)}/ws?token={token}"
    clients = [Client(url, args.deflate) for _ in range(args.clients)]
    t = time.monotonic()
    await open_all(clients)
    connect_s = time.monotonic() - t
    start = await asyncio.to_thread(head_of, tenant_id)
    await asyncio.sleep(0.5)

    # live phase
    await cause(base, token, args.events, args.rate, "live")
    live_head = await asyncio.to_thread(head_of, tenant_id)
    await wait_for(clients, live_head, 30)
    latencies = [ms for c in clients for ms in c.latencies]

    # drop half, miss events, reconnect with resume, then live again
    dropped = clients[: len(clients) // 2]
    await asyncio.gather(*(c.close() for c in dropped))
    last_seen = {i: c.seqs[-1] if c.seqs else start for i, c in enumerate(dropped)}
    await cause(base, token, args.resume_events, args.rate, "missed")
    await open_all(dropped, resume=last_seen)
    await cause(base, token, args.resume_events, args.rate, "after")
    end = await asyncio.to_thread(head_of, tenant_id)
    await wait_for(clients, end, 60)
    expected = list(range(start + 1, end + 1))
    missed = sum(len(set(expected) - set(c.seqs)) for c in clients)
    duplicated = sum(len(c.seqs) - len(set(c.seqs)) for c in clients)
    out_of_order = sum(c.seqs != sorted(c.seqs) for c in clients)
    await asyncio.gather(*(c.close() for c in clients))
    return {
        "clients": args.clients, "connect_s": round(connect_s, 2), "events": live_head - start,
        "deliveries": len(latencies), "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1), "max_ms": round(max(latencies), 1),
        "resume": {"dropped": len(dropped), "events": end - live_head, "missed": missed, "duplicated": duplicated,
                   "clients_out_of_order": out_of_order,
                   "resync_or_error": sum(len(c.unexpected) for c in clients)},
    }


async def one_client(args: argparse.Namespace, base: str, token: str, tenant_id: int) -> dict[str, Any]:
    """The same path through Maestro with one client: what commit-to-delivery costs before any
    fan-out (the baseline the 1,000-client figure is compared with)."""
    client = Client(f"{base.replace('http', 'ws', 1)}/ws?token={token}", args.deflate)
    await open_all([client])
    await asyncio.sleep(0.5)
    await cause(base, token, args.events, args.rate, "one")
    await wait_for([client], await asyncio.to_thread(head_of, tenant_id), 30)
    await client.close()
    return {"deliveries": len(client.latencies), "p50_ms": round(percentile(client.latencies, 50), 1),
            "p99_ms": round(percentile(client.latencies, 99), 1), "max_ms": round(max(client.latencies), 1)}


async def baseline(config: dict[str, Any], n: int, messages: int, rate: float) -> dict[str, Any]:
    """group_send → receive on the bare layer: N channels in one group, in this process."""
    layer = _layer(config)
    names = [await layer.new_channel() for _ in range(n)]
    for name in names:
        await layer.group_add("bench", name)
    latencies: list[float] = []

    async def receiver(name: str) -> None:
        for _ in range(messages):
            message = await layer.receive(name)
            latencies.append(time.time() * 1000 - message["sent"])

    tasks = [asyncio.ensure_future(receiver(name)) for name in names]
    await asyncio.sleep(0.2)
    for _ in range(messages):
        await layer.group_send("bench", {"type": "bench", "sent": time.time() * 1000})
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    await layer.flush()
    return {"deliveries": len(latencies), "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1), "max_ms": round(max(latencies), 1)}


def _layer(config: dict[str, Any]) -> Any:
    from django.utils.module_loading import import_string

    return import_string(config["BACKEND"])(**config.get("CONFIG", {}))


def writers(tenant: Any, threads: int, per_thread: int) -> dict[str, Any]:
    """Commits/s of project_create from 1 and from ``threads`` threads in one tenant, and the
    event log's seqs afterwards (must be exactly the range written)."""
    from django.db import connection

    from maestro.core.actors import Actor
    from orchestration.work.services.projects import project_create
    from realtime.models import Event

    def run(n: int) -> float:
        barrier = threading.Barrier(n + 1)

        def work(k: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                project_create(tenant=tenant, actor=Actor.job(f"bench-{k}"), name=f"w{k}-{i}")
            connection.close()

        pool = [threading.Thread(target=work, args=(k,)) for k in range(n)]
        for t in pool:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in pool:
            t.join()
        return n * per_thread / (time.perf_counter() - t0)

    before = head_of(tenant.pk)
    single = run(1)
    multi = run(threads)
    seqs = list(Event.objects.filter(tenant=tenant, seq__gt=before).order_by("seq").values_list("seq", flat=True))
    gapless = seqs == list(range(before + 1, before + 1 + (1 + threads) * per_thread * 2))
    return {"threads": threads, "commits_per_s_1": round(single), f"commits_per_s_{threads}": round(multi),
            "ratio": round(multi / single, 2), "seqs_gapless": gapless}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--full", action="store_true", help="the DESIGN §9 size: 1,000 clients")
    parser.add_argument("--events", type=int, default=40, help="POSTs in the live phase (2 events each)")
    parser.add_argument("--resume-events", type=int, default=10, help="POSTs while half the clients are away, "
                                                                      "and again after they resumed")
    parser.add_argument("--rate", type=float, default=10.0, help="POSTs per second")
    parser.add_argument("--layer", choices=sorted(LAYERS), help="channels_redis layer (default: settings)")
    parser.add_argument("--ws", default="auto", help="uvicorn's WebSocket implementation (default: what "
                                                       "`uvicorn maestro.asgi:application` picks)")
    parser.add_argument("--deflate", action="store_true",
                        help="permessage-deflate on (what browsers negotiate when the server offers it)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--check", action="store_true", help="exit 1 when over budget")
    args = parser.parse_args()
    if args.full:
        args.clients = 1000
    if not os.environ.get("MAESTRO_REDIS_URL"):
        sys.exit("ws_fanout needs Redis: set MAESTRO_REDIS_URL=redis://…")
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    os.environ["MAESTRO_CHANNELS_PREFIX"] = prefix = f"bench_ws_{os.getpid()}"
    use_bench_database(DB_NAME)
    from django.conf import settings

    from maestro.core.actors import Actor
    from maestro.tenancy.services import default_tenant, user_with_token

    config = layer_config(args.layer, prefix)
    settings.CHANNEL_LAYERS = {"default": config}  # this process's writers broadcast on it too
    tenant = default_tenant()
    token = user_with_token(username="bench", tenant_slug=tenant.slug, role="operator", actor=Actor.system("bench"))
    port = free_port()
    env = {**os.environ, "BENCH_CHANNEL_LAYERS": json.dumps({"default": config}), "BENCH_WS": args.ws,
           "BENCH_DEFLATE": str(int(args.deflate)), "MAESTRO_SECRET_KEY": "bench-secret-key-0123456789-abcdef-0123"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        result = {"layer": config["BACKEND"].rsplit(".", 1)[-1]}
        result["one_client"] = asyncio.run(one_client(args, base, token, tenant.pk))
        cpu = time.process_time()
        result["maestro"] = asyncio.run(fanout(args, base, token, tenant.pk))
        result["maestro"]["client_cpu_s"] = round(time.process_time() - cpu, 1)
        result["baseline"] = asyncio.run(baseline(config, args.clients, args.events * 2, args.rate * 2))
        result["ratio_p99"] = round(result["maestro"]["p99_ms"] / max(result["baseline"]["p99_ms"], 0.1), 1)
        result["ratio_p99_to_one_client"] = round(
            result["maestro"]["p99_ms"] / max(result["one_client"]["p99_ms"], 0.1), 1)
        result["writers"] = writers(tenant, args.writers, 25)
    finally:
        server.terminate()
        server.wait(10)
        drop_bench_database(DB_NAME)
    # CPU of the web process over the whole run (connections, HTTP, fan-out, writers phase idle)
    result["server_cpu_s"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
                                   + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime, 1)
    print(json.dumps(result, indent=2))
    m = result["maestro"]
    ok = (m["p99_ms"] <= 250 and m["resume"]["missed"] == 0 and m["resume"]["duplicated"] == 0
          and m["resume"]["resync_or_error"] == 0 and result["writers"]["seqs_gapless"])
    print(f"{m['clients']} clients: p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms (budget 250), "
          f"missed after resume {m['resume']['missed']}, doubled {m['resume']['duplicated']}; "
          f"one client p50 {result['one_client']['p50_ms']} ms p99 {result['one_client']['p99_ms']} ms; "
          f"raw layer p99 {result['baseline']['p99_ms']} ms "
          f"-> {'within budget' if ok else 'OVER BUDGET'}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
