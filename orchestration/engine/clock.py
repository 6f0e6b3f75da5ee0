"""The engine's clock and randomness, injectable so tests of retries, backoff and leases are
deterministic (``use(FixedClock(...))``); everything else reads :func:`now` and :func:`random`."""

from __future__ import annotations

import random as _random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from django.utils import timezone


class Clock(Protocol):
    def now(self) -> datetime: ...

    def random(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return timezone.now()

    def random(self) -> float:
        return _random.random()


class FixedClock:
    """Time that moves only when told (``advance``), and a fixed "random" value."""

    def __init__(self, start: datetime | None = None, rand: float = 0.5) -> None:
        self._now = start or timezone.now()
        self._rand = rand
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def random(self) -> float:
        return self._rand

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


_clock: Clock = SystemClock()


def now() -> datetime:
    return _clock.now()


def random() -> float:
    return _clock.random()


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    global _clock
    before, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = before
