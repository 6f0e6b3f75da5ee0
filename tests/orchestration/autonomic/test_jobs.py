"""Ticks: the scheduler leader's dispatcher enqueues each due loop's tick; a tick claims its
loop by a conditional UPDATE, so no loop is ticked twice for one due time, however many
dispatchers or ticks race (threads and processes on PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from orchestration.autonomic.jobs import dispatch_job
from orchestration.autonomic.selectors import loops_due
from orchestration.autonomic.services import loop_tick_due
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from tests.orchestration.autonomic.conftest import configure, loop
from tests.support.race import race
from tests.support.writes import Mark

ROOT = Path(__file__).resolve().parents[3]
ACTIVE = ["cost-optimization", "reliability-guardian"]  # the seeded sentinel is paused
# Racers on their own connections need a shared database (the SQLite test database is in memory).
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


def decisions() -> dict[str, int]:
    out: dict[str, int] = {}
    for slug in LoopDecision.objects.values_list("loop__slug", flat=True):
        out[slug] = out.get(slug, 0) + 1
    return out


@pytest.mark.django_db
def test_a_due_loop_is_ticked_once_then_not_until_its_interval_passed(seeded):
    # given: the seeded loops last ran in 2024
    pk = loop(seeded, "cost-optimization").pk

    # when
    first = loop_tick_due(loop_pk=pk)
    mark = Mark(seeded)
    second = loop_tick_due(loop_pk=pk)

    # then
    assert first is not None and first.details["trigger"] == "schedule"
    assert first.action == "none"
    assert second is None
    mark.assert_nothing_written()
    assert loop(seeded, "cost-optimization").last_run == first.created_at
    # and 15 minutes later (its interval) it is due again
    assert loop_tick_due(loop_pk=pk, now=first.created_at + timedelta(minutes=15)) is not None


@pytest.mark.django_db
def test_due_loops_follow_each_loops_interval_and_skip_paused_ones(seeded):
    # given: cost-optimization ticks every 30s and ran 20s ago; reliability-guardian (15m default) 14m ago
    now = timezone.now()
    configure(seeded, "cost-optimization", {"interval": "30s"})
    AutonomicLoop.objects.filter(slug="cost-optimization").update(last_run=now - timedelta(seconds=20))
    AutonomicLoop.objects.filter(slug="reliability-guardian").update(last_run=now - timedelta(minutes=14))

    # when / then
    pks = {loop(seeded, s).pk: s for s in ACTIVE}
    assert loops_due(now=now) == []
    assert [pks[p] for p in loops_due(now=now + timedelta(seconds=10))] == ["cost-optimization"]
    assert sorted(pks[p] for p in loops_due(now=now + timedelta(minutes=1))) == ACTIVE


@pytest.mark.django_db
def test_a_paused_or_deleted_loop_is_not_ticked(seeded):
    # given
    pk = loop(seeded, "safety-sentinel").pk
    mark = Mark(seeded)

    # when / then
    assert loop_tick_due(loop_pk=pk) is None
    assert loop_tick_due(loop_pk=10**9) is None
    mark.assert_nothing_written()


@pytest.mark.django_db
def test_the_dispatcher_ticks_every_due_active_loop_once(seeded, eager_workers):
    # when: dispatched twice in a row
    assert dispatch_job() == 2
    assert dispatch_job() == 0

    # then
    assert decisions() == dict.fromkeys(ACTIVE, 1)


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_ticks_racing_for_one_due_loop_tick_it_once(seeded):
    # given
    pk = loop(seeded, "reliability-guardian").pk

    # when: six ticks of the same loop at once, each on its own connection
    results = race(lambda i: loop_tick_due(loop_pk=pk), 6)

    # then: one decided, the others found it no longer due
    assert [status for status, _ in results] == ["ok"] * 6
    assert sum(1 for _, got in results if got is not None) == 1
    assert decisions() == {"reliability-guardian": 1}


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_two_dispatchers_at_once_tick_each_loop_once(seeded, eager_workers):
    # when: two dispatchers (as two schedulers that both believe they lead) race
    results = race(lambda i: dispatch_job(), 2)

    # then
    assert [status for status, _ in results] == ["ok", "ok"]
    assert decisions() == dict.fromkeys(ACTIVE, 1)


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_only_the_leading_scheduler_dispatches(seeded, eager_workers, settings, tmp_path):
    from maestro import scheduler

    # given: two schedulers of the dispatcher alone, polling fast
    settings.VAR_DIR = tmp_path
    settings.MAESTRO_SCHEDULER_STANDBY_RETRY = 0.05
    leaders: list[int] = []
    stops = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=scheduler.run, kwargs={
        "stop": stops[i], "poll": 0.05, "jobs": {"autonomic.dispatch": 0.05},
        "on_leader": lambda i=i: leaders.append(i)}) for i in (0, 1)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while decisions() != dict.fromkeys(ACTIVE, 1) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # more dispatch rounds of the leader: nothing is due any more

    # when: the leader stops and the standby takes over
    stops[leaders[0]].set()
    threads[leaders[0]].join(5)
    while len(leaders) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    for stop in stops:
        stop.set()
    for t in threads:
        t.join(5)

    # then: one leader at a time, and each loop ticked once (its 15-minute interval has not passed)
    assert sorted(leaders) == [0, 1]
    assert decisions() == dict.fromkeys(ACTIVE, 1)


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_two_scheduler_processes_never_tick_a_loop_twice(seeded, tmp_path):
    # given: two bin/scheduler processes on this database (jobs in-process: no broker), dispatching
    # every 0.2 s, standbys retrying every 0.2 s
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env = {**base, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "MAESTRO_ENV": "test", "MAESTRO_DATABASE_URL": _database_url(), "MAESTRO_VAR_DIR": str(tmp_path),
           "MAESTRO_LOOP_DISPATCH_SECONDS": "0.2", "MAESTRO_SCHEDULER_STANDBY_RETRY": "0.2",
           "MAESTRO_LOG_LEVEL": "ERROR", "PYTHONUNBUFFERED": "1"}
    logs = [tmp_path / f"scheduler{i}.out" for i in (0, 1)]
    procs = [subprocess.Popen(["bin/scheduler"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
             for log in logs]
    try:
        deadline = time.time() + 60
        while decisions() != dict.fromkeys(ACTIVE, 1) and time.time() < deadline:
            time.sleep(0.1)
        # when: the leader is killed and the standby takes over, dispatching on
        assert decisions() == dict.fromkeys(ACTIVE, 1)
        [leader] = [i for i in (0, 1) if "scheduler: leader" in _lines(logs[i])]
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait(10)
        standby = 1 - leader
        while "scheduler: leader" not in _lines(logs[standby]) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # five more dispatch rounds

        # then: each active loop was ticked exactly once
        assert "scheduler: leader" in _lines(logs[standby]), _lines(logs[standby])
        assert decisions() == dict.fromkeys(ACTIVE, 1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(10)


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines()
