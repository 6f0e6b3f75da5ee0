from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ledger.sequencer import sweep


class Command(BaseCommand):
    help = "Sequence the ledger intake now (what the ledger.sweep job does), optionally in a loop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--loop", action="store_true", help="keep sweeping until interrupted")
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between sweeps with --loop")

    def handle(self, *args: Any, **opts: Any) -> None:
        while True:
            done = sweep(batch_size=opts["batch_size"])
            for tenant_id, count in done.items():
                if count:
                    self.stdout.write(f"tenant {tenant_id}: sequenced {count}")
            if not opts["loop"]:
                return
            time.sleep(opts["interval"])
