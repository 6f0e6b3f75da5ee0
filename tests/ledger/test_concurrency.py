"""32 writer threads and 2 sequencer processes on one tenant (PostgreSQL): no gap, no fork,
every receipt sequenced exactly once; and a sequencer killed mid-batch loses nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from ledger.hashing import GENESIS_HASH
from ledger.models import Checkpoint, IntakeEntry, LedgerEntry, TenantHead
from ledger.selectors import entry_payloads
from ledger.sequencer import sequence_tenant
from ledger.services import intake_add
from ledger.verify import verify_chain
from maestro.tenancy.services import tenant_get_or_create
from tests.ledger import procs
from tests.ledger.conftest import postgres_only

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 32
PER_WRITER = 25


def _db_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _write(tenant, receipts: list, errors: list, k: int) -> None:
    try:
        for i in range(PER_WRITER):
            with transaction.atomic():
                row = intake_add(tenant_id=tenant.pk, action_type="race.append", resource_type="writer",
                                 resource_id=f"w{k}", actor_id=f"writer-{k}", actor_type="job",
                                 payload={"writer": k, "i": i}, metadata={})
            receipts.append(row.id)
    except Exception as exc:  # surfaced by the assertion below
        errors.append(exc)
    finally:
        connection.close()


@postgres_only
def test_writers_and_two_sequencers_on_one_tenant_yield_one_gapless_chain(tmp_path):
    # given: two sequencer processes polling the tenant
    tenant = tenant_get_or_create(slug="race")
    ctx = multiprocessing.get_context("spawn")
    stop = tmp_path / "stop"
    results = [tmp_path / f"done-{n}" for n in range(2)]
    sequencers = [ctx.Process(target=procs.sequencer_loop, args=(_db_url(), tenant.pk, str(stop), str(r), 7))
                  for r in results]
    for p in sequencers:
        p.start()

    # when: 32 threads append concurrently, each in its own transactions
    receipts: list = []
    errors: list = []
    writers = [threading.Thread(target=_write, args=(tenant, receipts, errors, k)) for k in range(WRITERS)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.write_text("writers done")
    for p in sequencers:
        p.join(timeout=120)

    # then
    assert errors == []
    assert [p.exitcode for p in sequencers] == [0, 0]
    shares = [int(r.read_text()) for r in results]
    assert sum(shares) == WRITERS * PER_WRITER, shares  # nothing sequenced twice
    chain = list(LedgerEntry.objects.filter(tenant_id=tenant.pk).order_by("sequence_number"))
    assert len(receipts) == WRITERS * PER_WRITER
    assert sorted(e.id for e in chain) == sorted(receipts)  # every receipt exactly once
    assert [e.sequence_number for e in chain] == list(range(1, len(receipts) + 1))  # no gap
    assert [e.previous_hash for e in chain] == [GENESIS_HASH] + [e.current_hash for e in chain[:-1]]  # no fork
    assert IntakeEntry.objects.filter(tenant_id=tenant.pk).count() == 0
    payloads = entry_payloads(tenant_id=tenant.pk, entries=chain)
    order = [json.loads(payloads[e.sequence_number]) for e in chain]
    for k in range(WRITERS):  # a writer's appends are chained in the order it made them
        assert [p["i"] for p in order if p["writer"] == k] == list(range(PER_WRITER))
    report = verify_chain(tenant_id=tenant.pk)
    assert (report["valid"], report["totalEntries"]) == (True, WRITERS * PER_WRITER)


@postgres_only
def test_a_sequencer_killed_mid_batch_leaves_nothing_half_written(tmp_path):
    # given: 50 appended entries and a sequencer that dies after writing them, before committing
    tenant = tenant_get_or_create(slug="crash")
    for i in range(50):
        intake_add(tenant_id=tenant.pk, action_type="crash.append", resource_type="x", resource_id=str(i),
                   actor_id="t", actor_type="job", payload={"i": i}, metadata={})
    ready = tmp_path / "ready"
    process = multiprocessing.get_context("spawn").Process(
        target=procs.sequencer_killed_mid_batch, args=(_db_url(), tenant.pk, str(ready)))
    process.start()
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the sequencer never reached the middle of its batch"

    # when
    os.kill(process.pid, signal.SIGKILL)
    process.join()

    # then: nothing of the batch is visible, everything is still in intake
    assert process.exitcode == -signal.SIGKILL
    assert LedgerEntry.objects.filter(tenant_id=tenant.pk).count() == 0
    assert Checkpoint.objects.filter(tenant_id=tenant.pk).count() == 0
    assert TenantHead.objects.filter(tenant_id=tenant.pk, sequence_number__gt=0).count() == 0
    assert IntakeEntry.objects.filter(tenant_id=tenant.pk).count() == 50

    # and the next sequencer does the whole batch exactly once (once the server has noticed
    # the dead session and released its lock)
    done = 0
    deadline = time.monotonic() + 30
    while done < 50 and time.monotonic() < deadline:
        done += sequence_tenant(tenant_id=tenant.pk)
        time.sleep(0.05)
    assert done == 50
    assert [e.resource_id for e in LedgerEntry.objects.filter(tenant_id=tenant.pk).order_by("sequence_number")] == \
        [str(i) for i in range(50)]
    assert verify_chain(tenant_id=tenant.pk)["valid"] is True
    assert Path(ready).read_text() == "entries written, not committed"
