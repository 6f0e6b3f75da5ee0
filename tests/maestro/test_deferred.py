"""maestro.deferred: the embedded default's delayed wake-ups; a test's end drops what is still
waiting and waits for the run under way (tests/conftest.py)."""

import threading
import time

from maestro.deferred import Deferred


def test_discard_drops_what_waits_and_waits_for_the_run_under_way():
    # given: one run under way (it holds until released) and one waiting for its delay
    deferred = Deferred()
    started, release, ran = threading.Event(), threading.Event(), []

    def slow():
        started.set()
        release.wait(5)
        ran.append("slow")

    deferred.schedule("slow", 0, slow)
    assert started.wait(5)
    deferred.schedule("later", 60, lambda: ran.append("later"))

    # when: discarded while the slow run is released a moment later
    threading.Timer(0.3, release.set).start()
    dropped = deferred.discard(wait=5)

    # then: the waiting run was dropped, and discard returned only once the slow one finished
    assert dropped == 1
    assert ran == ["slow"]
    assert deferred.run_now() == 0


def test_discard_gives_up_waiting_after_its_limit():
    # given: a run that does not finish
    deferred = Deferred()
    started, release = threading.Event(), threading.Event()
    deferred.schedule("stuck", 0, lambda: (started.set(), release.wait(10)))
    assert started.wait(5)

    # when
    began = time.monotonic()
    assert deferred.discard(wait=0.2) == 0

    # then: it returned after about its limit
    assert 0.15 < time.monotonic() - began < 3
    release.set()


def test_a_key_discarded_can_be_scheduled_again():
    deferred = Deferred()
    assert deferred.schedule("k", 60, lambda: None) is True
    assert deferred.schedule("k", 60, lambda: None) is False  # pending
    deferred.discard(wait=1)
    assert deferred.schedule("k", 60, lambda: None) is True
    assert deferred.run_now() == 1
