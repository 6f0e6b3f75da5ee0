"""A process's heartbeat file, for an exec liveness probe where there is no HTTP port.

The scheduler touches ``MAESTRO_SCHEDULER_HEARTBEAT_FILE`` at every turn of its loop (leader or
standby); the Kubernetes probe runs ``python3 -m maestro.ops.heartbeat FILE MAX_AGE_SECONDS``,
which exits 0 when the file was touched within ``MAX_AGE_SECONDS`` and 1 otherwise (missing,
or stale: the loop is stuck). Imports nothing of Django: the probe runs every few seconds.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def beat(path: str | os.PathLike[str]) -> None:
    """Marks the process alive now (creates the file the first time)."""
    p = Path(path)
    p.touch()
    os.utime(p)


def age(path: str | os.PathLike[str], now: float | None = None) -> float | None:
    """Seconds since the last beat, or None when there was none."""
    try:
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - mtime


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python3 -m maestro.ops.heartbeat FILE MAX_AGE_SECONDS", file=sys.stderr)
        return 2
    seconds = age(args[0])
    if seconds is None:
        print(f"no heartbeat at {args[0]}", file=sys.stderr)
        return 1
    if seconds > float(args[1]):
        print(f"heartbeat {seconds:.0f}s old (more than {args[1]}s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
