"""The embedded default's worker for wake-ups (see :func:`maestro.queue.wake`).

Without a broker, jobs run in-process. Most run right after the commit that enqueued them,
but a wake-up (the ledger sequencer's, issue #9) must not: run in the committing request it
made every write pay for a batch and a signed checkpoint of its own. Wake-ups are kept here
instead, one per key, and run by one daemon thread once their delay has passed; writes that
commit meanwhile find their key pending and add nothing, so they share that one run.

A run happens in the request id and trace context of the call that scheduled it (the first one,
when later calls found its key pending), as a job sent through a broker carries them in its
message's headers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connections

from maestro.core.context import carried

log = logging.getLogger(__name__)


class Deferred:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[Hashable, tuple[float, Callable[[], Any]]] = {}
        self._thread: threading.Thread | None = None
        self._running = 0  # runs the thread has taken and not finished

    def schedule(self, key: Hashable, delay: float, run: Callable[[], Any]) -> bool:
        """Run ``run`` in ``delay`` seconds unless ``key`` is already pending (then ``False``).
        A key stops being pending when its run starts, so a later call schedules a new run."""
        with self._cond:
            if key in self._pending:
                return False
            self._pending[key] = (time.monotonic() + delay, carried(run))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="maestro-deferred", daemon=True)
                self._thread.start()
            self._cond.notify()
        return True

    def run_now(self) -> int:
        """Run everything pending at once, in the caller's thread (shutdown, tests); returns
        how many ran."""
        with self._cond:
            runs = [run for _, run in self._pending.values()]
            self._pending.clear()
        for run in runs:
            _run_logged(run)
        return len(runs)

    def discard(self, *, wait: float) -> int:
        """Drops every pending run and waits up to ``wait`` seconds for the one under way, if
        any (a test ending: nothing it scheduled may write into the next one, or race the flush
        of its database); returns how many were dropped."""
        with self._cond:
            dropped = len(self._pending)
            self._pending.clear()
            self._cond.wait_for(lambda: self._running == 0, wait)
        return dropped

    def _loop(self) -> None:
        while True:
            runs = self._next_due()
            try:
                for run in runs:
                    try:
                        _run_logged(run)
                    finally:
                        connections.close_all()  # this thread's own; not held between runs
            finally:
                with self._cond:
                    self._running -= len(runs)
                    self._cond.notify_all()

    def _next_due(self) -> list[Callable[[], Any]]:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [key for key, (at, _) in self._pending.items() if at <= now]
                if due:
                    self._running += len(due)
                    return [self._pending.pop(key)[1] for key in due]
                soonest = min((at for at, _ in self._pending.values()), default=None)
                self._cond.wait(None if soonest is None else soonest - now)


def _run_logged(run: Callable[[], Any]) -> None:
    try:
        run()
    except Exception:
        log.exception("deferred job failed", extra={"event": "queue.deferred_failed"})
