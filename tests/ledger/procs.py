"""Entry points of the sequencer processes the concurrency tests start (multiprocessing,
'spawn'): each sets Django up against the test database it is given."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _setup(db_url: str) -> None:
    os.environ["MAESTRO_ENV"] = "test"
    os.environ["MAESTRO_DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
    import django

    django.setup()


def sequencer_loop(db_url: str, tenant_id: int, stop_path: str, result_path: str, batch_size: int) -> None:
    """Sequence until told to stop and nothing is left; write how many entries this process did."""
    _setup(db_url)
    from ledger.sequencer import backlog_exists, sequence_tenant

    done = 0
    while True:
        n = sequence_tenant(tenant_id=tenant_id, batch_size=batch_size)
        done += n
        if n == 0:
            if Path(stop_path).exists() and not backlog_exists(tenant_id=tenant_id):
                break
            time.sleep(0.002)
    Path(result_path).write_text(str(done))


def sequencer_killed_mid_batch(db_url: str, tenant_id: int, ready_path: str) -> None:
    """Run one batch but stop dead after its entries are written and before it commits (the
    parent SIGKILLs us there)."""
    _setup(db_url)
    from ledger import sequencer

    def stall(*args: object, **kwargs: object) -> None:
        Path(ready_path).write_text("entries written, not committed")
        time.sleep(3600)

    sequencer._checkpoint = stall  # type: ignore[assignment]
    sequencer.sequence_tenant(tenant_id=tenant_id, batch_size=1000)
