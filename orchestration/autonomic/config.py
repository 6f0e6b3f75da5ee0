"""A loop's settings, read from its ``config`` at tick time (an admin edit takes effect at the
next tick): the names of DESIGN §7.2 first, then the old system's names for the same setting,
then the defaults of §7.2. The config was checked against its type's JSON schema when stored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

DEFAULT_INTERVAL = timedelta(minutes=15)
DEFAULT_WINDOW = timedelta(hours=1)
DEFAULT_MIN_RUNS = 5
DEFAULT_FAILURE_RATE = 0.2
DEFAULT_SHIFT = 20
DEFAULT_MAX_DENIALS = 0

_DURATION = re.compile(r"^([1-9][0-9]{0,5})(s|m|h|d)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: Any, default: timedelta) -> timedelta:
    """``30s`` / ``15m`` / ``1h`` / ``1d``; anything else is the default."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    return timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)]) if match else default


def setting(config: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    """The first of ``names`` present (and not a boolean standing in for a number) in ``config``."""
    for name in names:
        value = config.get(name)
        if value is not None:
            return value
    return default


def interval(config: Mapping[str, Any]) -> timedelta:
    return duration(config.get("interval"), DEFAULT_INTERVAL)


def window(config: Mapping[str, Any]) -> timedelta:
    return duration(config.get("window"), DEFAULT_WINDOW)


def min_runs(config: Mapping[str, Any]) -> int:
    return int(setting(config, "minRuns", "minSamples", default=DEFAULT_MIN_RUNS))


def shift(config: Mapping[str, Any]) -> int:
    return int(setting(config, "shift", "shiftPercent", default=DEFAULT_SHIFT))
