"""maestro.scheduler: one leader among the schedulers; the periodic jobs it enqueues exist."""

import os
import threading
import time

import pytest
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_only_one_scheduler_leads(settings, tmp_path):
    # given: two schedulers racing for leadership, each counting its enqueue rounds
    from maestro import scheduler

    settings.VAR_DIR = tmp_path
    settings.MAESTRO_SCHEDULER_STANDBY_RETRY = 0.05
    leaders: list[str] = []
    stops = [threading.Event(), threading.Event()]

    def run(i: int) -> None:
        scheduler.run(stop=stops[i], poll=0.05, jobs={}, on_leader=lambda: leaders.append(f"s{i}"))

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    time.sleep(0.6)
    # then: exactly one became leader
    assert len(leaders) == 1
    # when: the leader stops, the standby takes over
    first = int(leaders[0][1])
    stops[first].set()
    threads[first].join(5)
    deadline = time.time() + 5
    while len(leaders) < 2 and time.time() < deadline:
        time.sleep(0.05)
    stops[1 - first].set()
    threads[1 - first].join(5)
    assert leaders == [f"s{first}", f"s{1 - first}"], connection.vendor


def test_scheduler_finds_the_periodic_jobs(db, settings):
    from maestro.queue import registered

    for name in settings.MAESTRO_PERIODIC_JOBS:
        assert registered(name).name == name


@pytest.mark.django_db(transaction=True)
def test_scheduler_beats_its_heartbeat_as_leader_and_as_standby(settings, tmp_path):
    # given: two schedulers with a heartbeat file each (MAESTRO_SCHEDULER_HEARTBEAT_FILE; the
    # chart's liveness probe reads it)
    from maestro import scheduler
    from maestro.ops import heartbeat

    settings.VAR_DIR = tmp_path
    settings.MAESTRO_SCHEDULER_STANDBY_RETRY = 0.05
    stops = [threading.Event(), threading.Event()]
    files = [tmp_path / "s0.alive", tmp_path / "s1.alive"]
    leaders: list[int] = []

    def run(i: int) -> None:
        scheduler.run(stop=stops[i], poll=0.05, jobs={}, on_leader=lambda: leaders.append(i),
                      heartbeat_file=str(files[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    deadline = time.time() + 5
    while not (leaders and all(f.exists() for f in files)) and time.time() < deadline:
        time.sleep(0.05)
    # when: both beats are made stale, then the loops turn again
    for f in files:
        os.utime(f, (0, 0))
    deadline = time.time() + 5
    while any(heartbeat.main([str(f), "60"]) for f in files) and time.time() < deadline:
        time.sleep(0.05)
    for stop in stops:
        stop.set()
    for t in threads:
        t.join(5)
    # then: one led, and both the leader and the standby beat again
    assert len(leaders) == 1
    assert [heartbeat.main([str(f), "60"]) for f in files] == [0, 0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_scheduler_whose_connection_the_server_drops_stays_up_and_can_lead_again():
    # given: a leader and a standby, each holding its own connection to PostgreSQL
    from maestro import scheduler

    if connection.vendor != "postgresql":
        pytest.skip("leadership is a PostgreSQL advisory lock")
    leader, standby = scheduler.Leadership(), scheduler.Leadership()
    try:
        assert (leader.try_acquire(), standby.try_acquire()) == (True, False)

        # when: the server drops both connections (a failover, an operator's pg_terminate_backend)
        with connection.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                        "AND datname = current_database() AND query LIKE '%%pg_try_advisory_lock%%'")
            assert cur.fetchone()[0] == 2

        # then: each notices on its next question rather than raising (a raise ended the process):
        # the leader that it no longer leads, the standby that it cannot tell yet; asked again,
        # the standby reconnects and takes the lock the server released with the leader's session
        assert leader.still_held() is False
        assert standby.try_acquire() is False
        assert standby.try_acquire() is True
        assert leader.try_acquire() is False
    finally:
        leader.release()
        standby.release()
