"""Moving the test database through its migrations, for tests that build rows at an old schema
and check them after a migration (use with ``django_db(transaction=True)`` and always migrate
back to ``latest()`` in a ``finally``)."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

Targets = list[tuple[str, str | None]]


def migrate(targets: Targets) -> MigrationExecutor:
    """Migrates to ``targets``; the executor's loader then knows the state they leave."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


def latest() -> Targets:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()  # type: ignore[return-value]
