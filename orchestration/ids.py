"""The old system's string ids: ``<prefix>_<epoch ms>_<9 base-36 chars>``. Clients and
imported data depend on the shape, so it is kept."""

import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    rand = "".join(secrets.choice(_ALPHABET) for _ in range(9))
    return f"{prefix}_{int(time.time() * 1000)}_{rand}"


def ms(dt):  # type: ignore[no-untyped-def]
    """Epoch milliseconds, as the old Maestro Server API returns timestamps."""
    from datetime import UTC, datetime, timedelta

    # Integer arithmetic: int(dt.timestamp() * 1000) is 1 ms short for some instants (float rounding).
    return None if dt is None else (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def from_ms(value):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)
