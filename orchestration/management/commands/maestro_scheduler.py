from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from maestro import scheduler


class Command(BaseCommand):
    help = "Run the scheduler: one leader (advisory lock) enqueues periodic jobs; others stand by."

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("scheduler: waiting for leadership")
        scheduler.run(stop=stop, on_leader=lambda: self.stdout.write("scheduler: leader"))
