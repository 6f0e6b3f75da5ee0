"""The two timestamp formats on the wire, each written once.

- Epoch **milliseconds** (a JSON number): the projects/tasks/sessions API of the old Maestro
  Server and the realtime envelope.
- ISO-8601 UTC with **microseconds** and ``Z`` (``2024-02-01T12:05:23.456000Z``): the
  ``/api/maestro/`` control state, audit rows, the ledger (where it is hashed, DESIGN §6).

Naive datetimes are refused: guessing their zone would make the output depend on the host.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, overload

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


# The two formats as types of the fields that carry them, described for the OpenAPI document
# (maestro.api.openapi reads a string in Annotated as the field's description).
EpochMs = Annotated[int, "epoch milliseconds"]
IsoTime = Annotated[str, "ISO 8601 UTC with microseconds, e.g. 2024-02-01T12:05:23.456000Z"]


class NaiveTimestamp(ValueError):
    """A timestamp without a time zone."""


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise NaiveTimestamp(f"timestamp must be timezone-aware, got {dt!r}")
    return dt


@overload
def to_ms(dt: datetime) -> int: ...
@overload
def to_ms(dt: None) -> None: ...
def to_ms(dt: datetime | None) -> int | None:
    """Epoch milliseconds, truncated. Integer arithmetic: ``int(dt.timestamp() * 1000)`` is
    1 ms short for some instants (float rounding)."""
    return None if dt is None else (_aware(dt) - _EPOCH) // _MS


@overload
def from_ms(value: float) -> datetime: ...
@overload
def from_ms(value: None) -> None: ...
def from_ms(value: float | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(milliseconds=value)


@overload
def to_iso(dt: datetime) -> str: ...
@overload
def to_iso(dt: None) -> None: ...
def to_iso(dt: datetime | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (the year zero-padded to four digits)."""
    if dt is None:
        return None
    return _aware(dt).astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def iso_now() -> str:
    return to_iso(datetime.now(UTC))


def from_iso(value: str) -> datetime:
    """An ISO-8601 timestamp with a zone (``…Z`` or ``…+02:00``) as an aware datetime;
    ValueError for anything else, naive ones included."""
    parsed = datetime.fromisoformat(value)  # Python >= 3.11 reads "Z"
    _aware(parsed)
    return parsed
