"""API tokens read once per web process, forgotten the moment PostgreSQL says a credential
changed (docs/decisions.md 75).

Reading a token (with its user, tenant and the user's role there: one query) was a third of a
task read's cost. A process keeps what it read, keyed by the token's hash, while a listener
thread holds ``LISTEN maestro_credentials`` on a connection of its own. Triggers send that
notification when anything about a user, a tenant, a membership or a token (other than its
last-use stamp) commits (tenancy migration 0004), whoever writes it; the listener then drops
every token the process holds.

"At once", across processes: a writer that changed a credential (the services, through the
model signals below, and ``api_token_revoke``) does not return until every listener has seen its
change. After its commit it sends a numbered barrier on the same channel (PostgreSQL delivers
notifications in commit order), and each listener, having dropped its tokens, shows the
highest barrier it has seen in its session's ``application_name`` (``maestro-credentials <n>``);
the writer waits (at most ``WAIT_SECONDS``) until no listener of the database shows less. A
request that arrives after the revocation answered is therefore read afresh everywhere.

A process uses the cache only while its listener is connected and acknowledged (it reads every
token from the database otherwise, as before), only outside a transaction (a transaction sees
its own uncommitted writes, which nobody has been told about), and only on PostgreSQL through
Maestro's own pool (LISTEN does not survive PgBouncer's transaction mode). An entry is also read
again after ``MAESTRO_TOKEN_CACHE_SECONDS`` (0 turns the cache off), in case a listener's
connection died without a sound. Unknown and refused tokens are never kept."""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.signals import post_delete, post_save

from maestro.core.instances import instance
from maestro.tenancy.models import ApiToken, Membership, Tenant

log = logging.getLogger(__name__)

CHANNEL = "maestro_credentials"
SEQUENCE = "maestro_credentials_seq"
LISTENER_NAME = "maestro-credentials"  # the listener session's application_name: "<this> <barrier seen>"
WAIT_SECONDS = 2.0
RECONNECT_SECONDS = 1.0

_BARRIER_SQL = f"SELECT n FROM nextval('{SEQUENCE}') AS n, pg_notify('{CHANNEL}', n::text)"
_BEHIND_SQL = (
    "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() "
    f"AND application_name ~ '^{LISTENER_NAME} [0-9]+$' "
    "AND (CASE WHEN application_name ~ '[0-9]+$' THEN substring(application_name from '[0-9]+$')::bigint END) < %s")


@dataclass(slots=True)
class _Entry:
    token: dict[str, Any]
    user: dict[str, Any]
    tenant: dict[str, Any]
    read_at: float


def _fields(obj: Any) -> dict[str, Any]:
    return {key: value for key, value in obj.__dict__.items() if key != "_state"}


class CredentialCache:
    def __init__(self, alias: str = DEFAULT_DB_ALIAS) -> None:
        self.alias = alias
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._generation = 0  # +1 each time entries are dropped: a read that overlapped a drop is not kept
        self._live = False
        self._stopping = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._listen, name="maestro-credentials", daemon=True)
        self._thread.start()

    @property
    def live(self) -> bool:
        return self._live

    # ---- the request's side --------------------------------------------------------------

    def get(self, key_hash: str, ttl: float) -> ApiToken | None:
        """The token (``user``, ``tenant`` and ``member_role`` with it) as last read, made
        afresh for this request; None when not held (or held too long)."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if time.monotonic() - entry.read_at > ttl:
            with self._lock:
                if self._entries.get(key_hash) is entry:
                    del self._entries[key_hash]
            return None
        token = instance(ApiToken, entry.token, db=self.alias)
        token._state.fields_cache = {"user": instance(User, entry.user, db=self.alias),
                                     "tenant": instance(Tenant, entry.tenant, db=self.alias)}
        return token

    def generation(self) -> int:
        """Taken before reading a token from the database, handed back to :meth:`put`."""
        return self._generation

    def put(self, key_hash: str, generation: int, token: ApiToken) -> None:
        """Keeps ``token`` (read with its user and tenant), unless credentials changed since
        ``generation`` was taken: the read may predate that change."""
        entry = _Entry(_fields(token), _fields(token.user), _fields(token.tenant), time.monotonic())
        with self._lock:
            if self._live and generation == self._generation:
                self._entries[key_hash] = entry

    def touched(self, key_hash: str, when: Any) -> None:
        entry = self._entries.get(key_hash)
        if entry is not None:
            entry.token["last_used_at"] = when

    def __len__(self) -> int:
        return len(self._entries)

    def _drop_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    # ---- the listener ----------------------------------------------------------------------

    def _connect(self, pending: list[str]) -> tuple[psycopg.Connection[Any], int]:
        """A listening connection, and the barrier it has acknowledged."""
        s = connections[self.alias].settings_dict
        params = {"dbname": s["NAME"], "user": s["USER"], "password": s["PASSWORD"], "host": s["HOST"],
                  "port": s["PORT"]}
        conn = psycopg.connect(**{k: v for k, v in params.items() if v not in (None, "")}, autocommit=True,
                               application_name=f"{LISTENER_NAME} 0", connect_timeout=5,
                               keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
        try:
            # What arrives while psycopg runs a statement goes to its handlers, not to notifies().
            conn.add_notify_handler(lambda notify: pending.append(notify.payload))
            conn.execute(f"LISTEN {CHANNEL}")
            # Whatever committed before the LISTEN is in the database for every later read: drop
            # what was read before, then acknowledge every barrier sent so far.
            row = conn.execute(f"SELECT last_value FROM {SEQUENCE}").fetchone()
            seen = int(row[0]) if row else 0
            self._drop_all()
            self._ack(conn, seen)
        except BaseException:
            conn.close()
            raise
        return conn, seen

    @staticmethod
    def _ack(conn: psycopg.Connection[Any], barrier: int) -> None:
        conn.execute(f"SET application_name = '{LISTENER_NAME} {int(barrier)}'")

    def _listen(self) -> None:
        while not self._stopping.is_set():
            pending: list[str] = []
            try:
                conn, seen = self._connect(pending)  # a barrier it brings later is never below that
                self._conn = conn
                pgconn = conn.pgconn
                self._live = True
                log.info("credential cache listening", extra={"event": "credentials.listening"})
                while not self._stopping.is_set():
                    while (notify := pgconn.notifies()) is not None:
                        pending.append(notify.extra.decode())
                    if not pending:
                        ready, _, _ = select.select([pgconn.socket], [], [], 1.0)
                        if ready:
                            pgconn.consume_input()
                        continue
                    barriers = [int(payload) for payload in pending if payload.isdigit()]
                    changed = len(barriers) < len(pending)  # a barrier alone changes nothing
                    pending.clear()
                    if changed:
                        self._drop_all()  # before any acknowledgement of what came with it
                    if barriers and max(barriers) > seen:
                        seen = max(barriers)
                        self._ack(conn, seen)
            except Exception as exc:  # noqa: BLE001 — any failure: stop trusting the cache, try again
                if not self._stopping.is_set():
                    log.warning("credential cache listener lost its connection; tokens are read every time "
                                "until it is back", extra={"event": "credentials.listener_lost",
                                                           "error": type(exc).__name__})
            finally:
                self._live = False
                self._drop_all()
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
            self._stopping.wait(RECONNECT_SECONDS)

    def stop(self) -> None:
        """Ends the listener (within a second: its wait) and forgets every token."""
        self._stopping.set()
        self._thread.join(timeout=5)


_cache: CredentialCache | None = None
_cache_pid = 0
_start_lock = threading.Lock()


def _enabled(alias: str = DEFAULT_DB_ALIAS) -> bool:
    connection = connections[alias]
    return (settings.MAESTRO_TOKEN_CACHE_SECONDS > 0 and connection.vendor == "postgresql"
            and "pool" in connection.settings_dict.get("OPTIONS", {}))


def active() -> CredentialCache | None:
    """This process's cache when a request may use it now, else None (read the database)."""
    if not _enabled() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return None
    cache = _cache
    if cache is None or _cache_pid != os.getpid():
        cache = _start()
    return cache if cache.live else None


def _start() -> CredentialCache:
    global _cache, _cache_pid
    with _start_lock:
        if _cache is None or _cache_pid != os.getpid():
            _cache, _cache_pid = CredentialCache(), os.getpid()
        return _cache


def stop() -> None:
    """Stops this process's listener and forgets its tokens (tests; a process ends without it)."""
    global _cache
    with _start_lock:
        cache, _cache = _cache, None
    if cache is not None and _cache_pid == os.getpid():
        cache.stop()


# ---- the writer's side ---------------------------------------------------------------------

def credentials_changed(using: str = DEFAULT_DB_ALIAS) -> None:
    """Call where a credential changes: once the transaction commits, the caller waits until
    every web process has dropped what it read before (:func:`settle`). Whether or not this
    process keeps tokens itself: the web processes may."""
    if connections[using].vendor == "postgresql":
        # robust: the change has committed whatever happens to the wait (settle logs its failure)
        transaction.on_commit(lambda: settle(using), using=using, robust=True)


def settle(using: str = DEFAULT_DB_ALIAS, timeout: float = WAIT_SECONDS) -> bool:
    """Sends a barrier and waits until every listener of this database has seen it (and so
    every change committed before it). False when one had not within ``timeout`` (logged)."""
    with connections[using].cursor() as cur:
        cur.execute(_BARRIER_SQL)
        barrier = cur.fetchone()[0]
        deadline = time.monotonic() + timeout
        while True:
            cur.execute(_BEHIND_SQL, [barrier])
            behind = cur.fetchall()
            if not behind:
                return True
            if time.monotonic() >= deadline:
                log.warning("web processes did not confirm a credential change in time; their cached tokens "
                            "expire within MAESTRO_TOKEN_CACHE_SECONDS", extra={
                                "event": "credentials.settle_timeout", "barrier": barrier,
                                "behind": [f"{pid}: {name}" for pid, name in behind]})
                return False
            time.sleep(0.002)


def _changed(sender: Any, instance: Any, created: bool = False, using: str = DEFAULT_DB_ALIAS, **_: Any) -> None:
    # A new user, tenant or token is nobody's cached credential; a new membership may be.
    if not created or sender is Membership:
        credentials_changed(using)


def connect_signals() -> None:
    """Saves and deletes of users, tenants, memberships and tokens wait for every web process
    (an update of a queryset sends no signal: ``api_token_revoke`` calls credentials_changed)."""
    for model in (get_user_model(), Tenant, Membership, ApiToken):
        post_save.connect(_changed, sender=model, dispatch_uid=f"credentials-saved-{model._meta.label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"credentials-deleted-{model._meta.label}")
