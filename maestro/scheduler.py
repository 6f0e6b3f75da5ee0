"""The scheduler process: one leader at a time enqueues the periodic jobs.

Leadership is a PostgreSQL session advisory lock held on a dedicated connection (released by
the server if the process dies), or an exclusive file lock for the embedded SQLite default.
Standbys retry every few seconds, so killing the leader hands over within one retry."""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from maestro.ops import heartbeat
from maestro.queue import enqueue

log = logging.getLogger("maestro.scheduler")

LEADER_LOCK_KEY = 0x4D41455354524F  # "MAESTRO"


class Leadership:
    def __init__(self) -> None:
        self._conn: Any = None
        self._file: Any = None

    def try_acquire(self) -> bool:
        if connections["default"].vendor == "postgresql":
            import psycopg

            try:
                if self._conn is None:
                    params = connections["default"].get_connection_params()
                    self._conn = psycopg.connect(**params, autocommit=True)
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK_KEY]).fetchone()
            except psycopg.Error:
                # The server is away or dropped this connection: not leader for now; the next
                # try connects afresh (raising here would end the process).
                log.warning("could not ask for leadership", exc_info=True,
                            extra={"event": "scheduler.leadership_unknown"})
                self.release()
                return False
            return bool(row and row[0])
        path = Path(settings.VAR_DIR) / "scheduler.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 — held for the process lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True
            except Exception:
                self.release()
                return False
        return self._file is not None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


def run(*, stop: threading.Event | None = None, poll: float = 1.0,
        jobs: dict[str, float] | None = None, on_leader: Callable[[], None] | None = None,
        heartbeat_file: str | None = None) -> None:
    stop = stop or threading.Event()
    jobs = dict(jobs if jobs is not None else settings.MAESTRO_PERIODIC_JOBS)
    leadership = Leadership()
    due = dict.fromkeys(jobs, 0.0)
    leader = False
    beat_file = settings.MAESTRO_SCHEDULER_HEARTBEAT_FILE if heartbeat_file is None else heartbeat_file
    try:
        while not stop.is_set():
            if beat_file:  # the liveness probe's evidence that this loop turns (maestro.ops.heartbeat)
                heartbeat.beat(beat_file)
            if not leader:
                leader = leadership.try_acquire()
                if not leader:
                    stop.wait(settings.MAESTRO_SCHEDULER_STANDBY_RETRY)
                    continue
                log.info("became scheduler leader", extra={"event": "scheduler.leader"})
                if on_leader:
                    on_leader()
            elif not leadership.still_held():
                leader = False
                log.warning("lost scheduler leadership", extra={"event": "scheduler.lost_leader"})
                continue
            now = time.monotonic()
            for name, interval in jobs.items():
                if now >= due[name]:
                    due[name] = now + interval
                    try:
                        enqueue(name)
                    except LookupError:
                        log.warning("periodic job not registered",
                                    extra={"event": "scheduler.unknown_job", "job": name})
                    except Exception:
                        log.exception("could not enqueue", extra={"event": "scheduler.enqueue_failed", "job": name})
            stop.wait(poll)
    finally:
        leadership.release()
        connections.close_all()
