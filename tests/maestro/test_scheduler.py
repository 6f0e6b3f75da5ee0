"""maestro.scheduler: one leader among the schedulers; the periodic jobs it enqueues exist."""

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
