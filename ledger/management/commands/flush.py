"""Django's ``flush``, which the test database's teardown runs after every transactional test,
able to empty the append-only ledger tables only where settings say so.

Every ledger table refuses TRUNCATE (migration 0004), so a flush of a database with a ledger
fails — in a deployment that is the point. The test settings turn ``MAESTRO_LEDGER_ALLOW_FLUSH``
on; this command then sets ``maestro.ledger_flush`` for the length of the flush, which the
triggers honour only in a superuser session. Nothing else, and no SQL client, is let through.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.commands import flush
from django.db import connections


class Command(flush.Command):
    help = flush.Command.help + " Ledger tables are refused unless MAESTRO_LEDGER_ALLOW_FLUSH is on (tests)."

    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if not settings.MAESTRO_LEDGER_ALLOW_FLUSH or connection.vendor != "postgresql":
            super().handle(**options)
            return
        with connection.cursor() as cur:
            cur.execute("SET maestro.ledger_flush = 'on'")
        try:
            super().handle(**options)
        finally:
            with connection.cursor() as cur:
                cur.execute("RESET maestro.ledger_flush")
