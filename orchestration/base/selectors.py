"""The one row a ``*_get`` selector returns, with the row lock its caller asked for, and the
key-share lock a new row takes on what it references."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

from maestro.core.exceptions import NotFound

M = TypeVar("M", bound=Model)

# "no_key": FOR NO KEY UPDATE, for edits of non-key columns (does not block the foreign-key
# checks of concurrent inserts that reference the row); "update": FOR UPDATE (deletes, and the
# versioned config objects, whose rows nothing references while they are edited).
Lock = Literal["no_key", "update"] | None


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


def key_share(model: type[Model], ids: list[str]) -> set[Any]:
    """Takes FOR KEY SHARE row locks on the rows a new row is about to reference and returns the
    ids that still exist.

    The foreign keys are checked at commit, i.e. after the write path took the tenant's event
    counter; without this early lock an insert (holding the counter) would wait at commit for
    a concurrent delete of its parent (waiting for the counter) — a deadlock. Taken here, the
    insert either waits for the delete to finish (and then sees the parent gone) or makes the
    delete wait (and then see the new child)."""
    if not ids:
        return set()
    qs = model._default_manager.filter(pk__in=ids).order_by("pk")
    if connection.vendor != "postgresql":
        return set(qs.values_list("pk", flat=True))
    sql, params = qs.values_list("pk").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(f"{sql} FOR KEY SHARE", params)
        return {row[0] for row in cur.fetchall()}
