"""Reads whose ORM query is compiled once per process and then run with new values.

For the reads every API request makes (its token, the task an agent polls), turning the
QuerySet into SQL — resolving lookups, joins, annotations and subqueries — took several times
longer than PostgreSQL took to answer. :class:`CompiledRead` builds the QuerySet once with
marker values, keeps its SQL and how its rows become objects (the ORM's own converters and
select_related populators, as ``ModelIterable`` uses them), and from then on only executes.
The SQL is the ORM's, so the query stays written (and reviewed) as a QuerySet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class _Plan:
    sql: str
    slots: list[tuple[str | None, Any]]  # per parameter: its marker's name, or None and a constant
    model: type[Model]
    init_list: list[str]
    fields_start: int
    fields_end: int
    populators: list[Any]
    annotations: dict[str, int]
    converters: dict[int, tuple[list[Any], Any]]


class CompiledRead(Generic[M]):
    """``build(**markers)`` returns the QuerySet; each marker must be a value no real call
    passes, nor the query holds as a constant, and must appear as a parameter of the SQL (a
    value Django inlines, such as a slice's limit, cannot be a marker). ``rows(**values)``
    runs it with ``values`` in place of the markers and returns the objects, as iterating the
    QuerySet would."""

    def __init__(self, build: Callable[..., QuerySet[M]], **markers: Any) -> None:
        self._build = build
        self._markers = markers
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def _plan(self, alias: str) -> _Plan:
        plan = self._plans.get(alias)
        if plan is not None:
            return plan
        with self._lock:
            compiler, sql, slots = _compile(self._build(**self._markers), self._markers, alias)
            select, klass_info = compiler.select, compiler.klass_info
            assert klass_info is not None  # a model query
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            plan = _Plan(
                sql=sql, slots=slots, model=klass_info["model"],
                init_list=[col[0].target.attname for col in select[start:end]], fields_start=start, fields_end=end,
                populators=get_related_populators(klass_info, select, alias),  # type: ignore[call-arg]  # 5.2
                annotations=dict(compiler.annotation_col_map or {}),
                converters=compiler.get_converters([col[0] for col in select[:compiler.col_count]]),
            )
            self._plans[alias] = plan
            return plan

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[M]:
        plan = self._plan(using)
        connection = connections[using]
        objects: list[M] = []
        for row in _run(connection, plan.sql, plan.slots, plan.converters, values):
            obj = plan.model.from_db(using, plan.init_list, row[plan.fields_start:plan.fields_end])
            for populator in plan.populators:
                populator.populate(row, obj)
            for name, position in plan.annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)  # type: ignore[arg-type]  # plan.model is M
        return objects


class CompiledValues:
    """:class:`CompiledRead` for a ``values_list()`` QuerySet (also one that aggregates, as
    ``.values(key).annotate(...).values_list(...)``): ``rows(**values)`` returns its tuples,
    as iterating the QuerySet would."""

    def __init__(self, build: Callable[..., QuerySet[Any]], **markers: Any) -> None:
        self._build = build
        self._markers = markers
        self._plans: dict[str, tuple[str, list[tuple[str | None, Any]], dict[int, tuple[list[Any], Any]]]] = {}
        self._lock = threading.Lock()

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[tuple[Any, ...]]:
        plan = self._plans.get(using)
        if plan is None:
            with self._lock:
                compiler, sql, slots = _compile(self._build(**self._markers), self._markers, using)
                plan = sql, slots, compiler.get_converters([col[0] for col in compiler.select[:compiler.col_count]])
                self._plans[using] = plan
        sql, slots, converters = plan
        return [tuple(row) for row in _run(connections[using], sql, slots, converters, values)]

    def first(self, default: tuple[Any, ...], *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> tuple[Any, ...]:
        """The first row, or ``default`` when there is none (a grouped aggregate over no rows)."""
        rows = self.rows(using=using, **values)
        return rows[0] if rows else default


def _compile(qs: QuerySet[Any], markers: dict[str, Any], alias: str) -> tuple[Any, str, list[tuple[str | None, Any]]]:
    """The compiler of ``qs``, its SQL, and per parameter its marker's name (replaced by the
    call's value) or ``None`` and a constant of the query itself (a JSON key, a literal)."""
    compiler = qs.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    slots: list[tuple[str | None, Any]] = []
    sent = {name: _adapted(connections[alias], marker) for name, marker in markers.items()}
    for value in params:
        found = [n for n, v in sent.items() if type(v) is type(value) and v == value]
        if len(found) > 1:
            raise ValueError(f"markers {found} have the same value")
        slots.append((found[0], None) if found else (None, value))
    if {name for name, _ in slots if name is not None} != set(markers):
        raise ValueError("every marker must be a parameter of the compiled read's SQL")
    return compiler, sql, slots


def _run(connection: Any, sql: str, slots: list[tuple[str | None, Any]],
         converters: dict[int, tuple[list[Any], Any]], values: dict[str, Any]) -> list[list[Any]]:
    """Executes the compiled SQL with ``values`` for its markers; the rows, each value passed
    through the ORM's converters for its column."""
    with connection.cursor() as cursor:
        cursor.execute(sql, [constant if name is None else _adapted(connection, values[name])
                             for name, constant in slots])
        fetched = cursor.fetchall()
    rows = []
    for raw in fetched:
        row = list(raw)
        for position, (column_converters, expression) in converters.items():
            value = row[position]
            for converter in column_converters:
                value = converter(value, expression, connection)
            row[position] = value
        rows.append(row)
    return rows


def _adapted(connection: Any, value: Any) -> Any:
    """A value as the ORM passes it to the database: a datetime as the backend adapts it (SQLite
    takes it as text), anything else as it is."""
    return connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
