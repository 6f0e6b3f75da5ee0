"""Racing writers: real threads released together, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def race(fn: Callable[[int], Any], racers: int) -> list[tuple[str, Any]]:
    """Runs ``fn(i)`` for i in range(racers), in threads released together by a barrier;
    ``("ok", result)`` or ``("error", exception)`` for each, in racer order."""
    barrier = threading.Barrier(racers)
    results: list[tuple[str, Any]] = [("missing", None)] * racers

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=20)
            results[i] = ("ok", fn(i))
        except Exception as exc:  # noqa: BLE001 — the test inspects what each racer got
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
