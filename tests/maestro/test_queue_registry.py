"""Finding a job by name in a fresh process: the first writes of a new web process run their
on-commit enqueues from several threads at once, and each must find its job (a miss was a 500
on a committed write)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_LOOKUPS = """
import threading
import django
django.setup()
from maestro.queue import registered
barrier, missed = threading.Barrier(8), []
def look():
    barrier.wait()
    try:
        registered("ledger.sequence_tenant")
    except LookupError:
        missed.append(1)
threads = [threading.Thread(target=look) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len(missed))
"""


def test_threads_of_a_fresh_process_all_find_a_job_by_name():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "maestro.settings", "PYTHONPATH": str(ROOT)}
    # given/when: five fresh processes, eight threads each looking a job up at the same moment
    missed = [subprocess.run([sys.executable, "-c", FIRST_LOOKUPS], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120).stdout.strip() for _ in range(5)]
    # then: no thread missed it
    assert missed == ["0"] * 5
