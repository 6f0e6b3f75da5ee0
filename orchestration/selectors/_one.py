"""The one row a ``*_get`` selector returns, with the row lock its caller asked for."""

from __future__ import annotations

from typing import Literal, TypeVar

from django.db.models import Model, QuerySet

from maestro.core.exceptions import NotFound

M = TypeVar("M", bound=Model)

# "no_key": FOR NO KEY UPDATE, for edits of non-key columns (does not block the foreign-key
# checks of concurrent inserts that reference the row); "update": FOR UPDATE (deletes, and the
# versioned config objects, whose rows nothing references while they are edited).
Lock = Literal["no_key", "update"] | None


def lock_for(*, for_update: bool, for_delete: bool = False) -> Lock:
    return "update" if for_delete else "no_key" if for_update else None


def one(qs: QuerySet[M], kind: str, ident: str, *, lock: Lock = None) -> M:
    """The first row of ``qs`` (locked as asked) or :class:`NotFound` naming ``kind`` and ``ident``."""
    if lock == "update":
        qs = qs.select_for_update()
    elif lock == "no_key":
        qs = qs.select_for_update(no_key=True)
    row = qs.first()
    if row is None:
        raise NotFound(kind, ident)
    return row
