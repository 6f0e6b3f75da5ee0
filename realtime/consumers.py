"""The WebSocket stream (DESIGN §5): every event of the tenant, in ``seq`` order with no gap,
optionally narrowed by topics and project; ``resume`` replays what a client missed.

Server → client: first ``{"type": "connected", "tenant", "role", "seq", "timestamp"}`` (``seq``:
the head; live events follow above it), then event envelopes ``{"type", "event", "data",
"timestamp", "seq"}``, and answers: ``pong {timestamp, seq}``, ``subscribed {topics,
projectId}``, ``resumed {seq}``, ``resync_required {seq}`` (events the client asked for are
no longer kept: reload state over REST; the stream continues above ``seq``), ``error {code,
message}`` (the connection stays usable). Client → server: ``ping``; ``subscribe {topics,
projectId}`` (replaces the subscription); ``resume {afterSeq}``, or ``?afterSeq=`` in the URL,
which resumes before any live event can be sent.

Access: the consumer is given, by the ASGI application that routes to it (``maestro.asgi``),
``authenticate`` (the handshake's credential → a :class:`StreamGrant`, or a close code) and
``can_subscribe`` (may this tenant's stream be narrowed to that project). It knows nothing else
of users or projects. The credential of the handshake is re-checked when the tenant's access
changes and at least every ``MAESTRO_WS_AUTH_RECHECK_SECONDS``; once it no longer grants the
tenant the connection is closed (4401/4403) and nothing more is sent on it. The access change
comes in the message of the commit that made it, and events read from the log are sent only
after a re-check made after the read, so a revoked socket gets no event frame of that commit
or any later one. A handshake while the channel layer cannot reach Redis is closed with 1013
(try again later); when the layer reconnects it sends ``maestro.layer_resumed`` and each
connection reads what it missed from the log.

Delivery guarantee, per connection: each seq is sent at most once and, unless the client is
told ``resync_required``, none above its starting point is skipped; live events arrive in
seq order (a resume's replay of older ones may follow live ones that were already sent).
The channel layer is only a fast path: it may lose messages (pub/sub in transit, a full or
expired channel) or deliver them out of order (commits in different processes), so when a
broadcast arrives ahead of the next expected seq the gap is read from the event log, and a
ping reads any tail the layer lost. Channels dispatches one message at a time per consumer,
so a resume never interleaves with live delivery.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from realtime import metrics
from realtime.broadcast import MESSAGE_TYPE, bind_serving_loop, old_client_joined, old_client_left, wire_text
from realtime.groups import tenant_group
from realtime.layers import LAYER_ERRORS, LAYER_RESUMED_TYPE
from realtime.selectors import EventPage, event_stream_head_of, events_after
from realtime.subscriptions import BadSubscription, Subscription, parse_subscribe

log = logging.getLogger(__name__)

# The subprotocol the server selects when a client offers it (browsers offer it beside their
# token, maestro/auth/websocket.py): an answer never names any other, so never a token.
STREAM_SUBPROTOCOL = "maestro.v1"
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455 registry: the server cannot serve the stream right now
REPLAY_PAGE = 1000
# A ping reads the log head at most this often; pings are the client's heartbeat.
PING_CATCH_UP_SECONDS = 5.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def scope_query(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin1"))


@dataclass(frozen=True)
class StreamGrant:
    """What a handshake's credential grants: one tenant's stream, as ``role``. ``user_id`` and
    ``token_id`` name the credential, so that an access change reaches the connections it
    concerns."""

    tenant_id: int
    tenant_slug: str
    role: str
    actor: str
    user_id: int | None = None
    token_id: int | None = None


@dataclass(frozen=True)
class Handshake:
    grant: StreamGrant | None
    close_code: int = CLOSE_UNAUTHENTICATED


Authenticate = Callable[[dict[str, Any]], Awaitable[Handshake]]
CanSubscribe = Callable[[int, str], bool]


class EventStreamConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels ships no type information
    authenticate: Authenticate
    can_subscribe: CanSubscribe
    tenant_id: int | None = None
    group: str | None = None
    counted = False
    client_gone = False
    subscription = Subscription()
    # (live_from, last_seq] has been processed (sent or filtered out) on this connection.
    live_from = 0
    last_seq = 0
    checked_at = 0.0
    # When the credential is next re-checked (monotonic); see _access_still_valid.
    access_due = 0.0
    user_id: int | None = None
    token_id: int | None = None
    # Only the events the old server sent (OldClientsStreamConsumer).
    old_clients_only = False
    accepted = False

    def __init__(self, *, authenticate: Authenticate, can_subscribe: CanSubscribe) -> None:
        super().__init__()
        self.authenticate = authenticate
        self.can_subscribe = can_subscribe

    # --- lifecycle ------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def watched_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            # Seen as soon as the server reports it while a broadcast is being handled (the
            # client's receive is pending then); from here on sends are skipped. While a
            # client message is handled, the first failing send marks it instead.
            if message["type"] == "websocket.disconnect":
                self.client_gone = True
            return message

        try:
            await super().__call__(scope, watched_receive, send)
        finally:
            # Also when a handler raised: the gauge and the group must not keep a dead client.
            await self._release()

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == MESSAGE_TYPE:
            # The fan-out hot path skips Channels' per-message close_old_connections thread
            # hop; maestro_events reaches the database only via database_sync_to_async,
            # which closes stale connections itself.
            # A commit that took access away re-checks the credentials it names before
            # anything of it is sent (broadcast.commit_messages).
            concerned = any(self._concerned_by(change) for change in message.get("access", ()))
            if await self._access_still_valid(force=concerned):
                await self.maestro_events(message)
            return
        if message["type"] == LAYER_RESUMED_TYPE:
            # Redis was away: whatever was published meanwhile is only in the event log.
            if await self._access_still_valid():
                await self._fill_from_log()
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        grant = await self._open()
        if grant is None:
            return
        await self.send_json({"type": "connected", "tenant": grant.tenant_slug, "role": grant.role,
                              "seq": self.last_seq, "timestamp": _now_ms()})
        raw = scope_query(self.scope).get("afterSeq")
        if raw:
            # Resuming in the handshake leaves no window for live events to come first.
            after = int(raw[0]) if raw[0].isascii() and raw[0].isdigit() else None
            if after is None:
                await self._error("afterSeq must be a non-negative integer")
            else:
                await self._resume(after)

    async def _accept(self) -> None:
        self.accepted = True
        await self.accept(STREAM_SUBPROTOCOL if STREAM_SUBPROTOCOL in self.scope.get("subprotocols", ()) else None)

    async def _open(self, *, accept_first: bool = True) -> StreamGrant | None:
        """Authenticates, joins the tenant's group and reads the head: every event above it
        reaches this connection. None: the connection was closed. ``accept_first=False``
        accepts only once joined, so a client that needs no greeting gets every event
        committed after its socket opened."""
        result = await self.authenticate(self.scope)
        if accept_first or result.grant is None:
            # A close before accept is an HTTP 403 and the client never sees the code.
            await self._accept()
        if result.grant is None:
            await self.close(code=result.close_code)
            return None
        grant = result.grant
        bind_serving_loop(asyncio.get_running_loop())
        if not await self._join(tenant_group(grant.tenant_id)):
            return None
        self.tenant_id = grant.tenant_id
        self.user_id, self.token_id = grant.user_id, grant.token_id
        self.access_due = time.monotonic() + settings.MAESTRO_WS_AUTH_RECHECK_SECONDS
        # Joined before reading the head: every event above it reaches this channel.
        self.live_from = self.last_seq = await database_sync_to_async(event_stream_head_of)(self.tenant_id)
        metrics.WS_CLIENTS.inc()
        self.counted = True
        if not accept_first:
            await self._accept()
        return grant

    async def _join(self, group: str) -> bool:
        """Joins the tenant's group. While the channel layer cannot reach Redis the connection
        is closed with 1013 (try again later) instead: it could not receive live events, and
        the client reconnects and resumes with ``afterSeq`` once Redis is back."""
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except LAYER_ERRORS:
            log.warning("websocket refused: channel layer unreachable", extra={"event": "realtime.layer_unavailable"})
            metrics.WS_LAYER_REFUSED.inc()
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except LAYER_ERRORS:
                pass  # nothing reached Redis; only the local membership is undone
            if not self.accepted:
                await self._accept()  # so that the client sees the code
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return False
        self.group = group
        return True

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def _release(self) -> None:
        if self.counted:
            self.counted = False
            metrics.WS_CLIENTS.dec()
        group, self.group = self.group, None
        if group is not None:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # the layer's group expiry removes it eventually
                log.warning("group_discard failed", extra={"event": "realtime.group_discard_failed"})

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if self.client_gone:
            return
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except OSError:  # the ASGI server's "client disconnected" (uvicorn's ClientDisconnected)
            self.client_gone = True

    async def send_json(self, content: Any, close: bool = False) -> None:
        # The base class's send_json bypasses send() above.
        await self.send(text_data=json.dumps(content), close=close)

    # --- client → server ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.tenant_id is None:
            return  # closed with 4401/4403; the close frame is on its way
        if text_data is None:
            await self._error("messages must be JSON text frames")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # nested deeper than the decoder's stack
            await self._error("message is not valid JSON")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self._error("message must be a JSON object")
            return
        if not await self._access_still_valid():
            return
        kind = content.get("type")
        if kind == "ping":
            await self._ping()
        elif kind == "subscribe":
            await self._subscribe(content)
        elif kind == "resume":
            after = content.get("afterSeq")
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                await self._error("afterSeq must be a non-negative integer")
                return
            await self._resume(after)
        else:
            await self._error(f"unknown message type {kind!r}" if isinstance(kind, str) else "type is required")

    def _concerned_by(self, change: dict[str, Any]) -> bool:
        user_id, token_id = change.get("user_id"), change.get("token_id")
        if user_id is None and token_id is None:
            return True  # a change that names nobody concerns everyone
        return (user_id is not None and user_id == self.user_id) or (token_id is not None and token_id == self.token_id)

    async def _access_still_valid(self, *, force: bool = False) -> bool:
        """Re-runs the handshake's authentication on the same credential when it is due (or
        ``force``): a revoked token, a removed membership, an inactive user, an expired JWT or
        a logged-out session closes the connection (4401, or 4403 when the credential is
        valid but no longer grants this tenant) before anything more is sent on it."""
        if self.tenant_id is None:
            return False
        if not force and time.monotonic() < self.access_due:
            return True
        self.access_due = time.monotonic() + settings.MAESTRO_WS_AUTH_RECHECK_SECONDS
        result = await self.authenticate(self.scope)
        if result.grant is not None and result.grant.tenant_id == self.tenant_id:
            return True
        log.info("websocket access revoked", extra={"event": "realtime.access_revoked", "tenant": self.tenant_id,
                                                     "code": result.close_code})
        metrics.WS_ACCESS_REVOKED.inc()
        self.tenant_id = None  # stops delivery; receive() ignores the client from here on
        await self._release()
        if not self.client_gone:
            try:
                await self.close(code=result.close_code)
            except OSError:
                self.client_gone = True
        return False

    async def _error(self, message: str, code: str = "VALIDATION_ERROR") -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def _fill_from_log(self) -> None:
        before = self.last_seq
        if await self._catch_up():
            metrics.WS_GAP_FILLED.inc(self.last_seq - before)

    async def _ping(self) -> None:
        await self._fill_from_log_if_due()
        await self.send_json({"type": "pong", "timestamp": _now_ms(), "seq": self.last_seq})

    async def _fill_from_log_if_due(self) -> None:
        if time.monotonic() - self.checked_at >= PING_CATCH_UP_SECONDS:
            await self._fill_from_log()

    async def _subscribe(self, content: dict[str, Any]) -> None:
        try:
            topics, project_id = parse_subscribe(content)
        except BadSubscription as exc:
            await self._error(str(exc))
            return
        if project_id is not None and not await database_sync_to_async(self.can_subscribe)(self.tenant_id, project_id):
            await self._error("Project not found", code="PROJECT_NOT_FOUND")
            return
        self.subscription = Subscription(topics=topics, project_id=project_id)
        await self.send_json({"type": "subscribed", **self.subscription.describe()})

    async def _resume(self, after: int) -> None:
        """Replays ``(after, live_from]`` (what the client missed before this connection),
        then everything above ``last_seq``; ``(live_from, last_seq]`` was sent live already."""
        if after < self.live_from:
            if not await self._replay(after, upto=self.live_from):
                return
            self.live_from = after
        elif after > self.last_seq:
            head = await database_sync_to_async(event_stream_head_of)(self.tenant_id)
            if after > head:
                await self._resync(head)  # a seq this tenant never had
                return
        if await self._catch_up():
            await self.send_json({"type": "resumed", "seq": self.last_seq})

    # --- server → client ------------------------------------------------------------------

    async def maestro_events(self, message: dict[str, Any]) -> None:
        """One commit's events (broadcast.commit_messages), in seq order."""
        for item in message["events"]:
            if self.tenant_id is None or self.client_gone:
                return
            seq = item["seq"]
            if seq <= self.last_seq:
                continue  # already sent by a replay or a gap fill
            if seq > self.last_seq + 1:
                before = self.last_seq
                filled = await self._catch_up(upto=seq - 1)
                metrics.WS_GAP_FILLED.inc(max(0, self.last_seq - before) if filled else 0)
                if not filled or seq <= self.last_seq:
                    continue
            self.last_seq = seq
            await self._deliver(item["event"], item["project_id"], item["text"], item["old_stream"])

    async def _deliver(self, event_type: str, project_id: str, text: str, old_stream: bool) -> None:
        if self.old_clients_only and not old_stream:
            return
        if self.subscription.matches(event_type, project_id):
            await self.send(text_data=text)
            if not self.client_gone:
                metrics.WS_DELIVERED.inc()

    async def _page(self, after: int, upto: int | None) -> EventPage | None:
        """A page of the log, or None when the connection was closed because its credential
        no longer grants access. The credential is re-checked after the read: a revocation
        committed before it may be among the events read, and the access change that came
        with it may be lost or still on its way (or its message overtaken by this one)."""
        page: EventPage = await database_sync_to_async(events_after)(
            tenant_id=self.tenant_id, after_seq=after, limit=REPLAY_PAGE, upto_seq=upto)
        if page.events and not await self._access_still_valid(force=True):
            return None
        return page

    async def _replay(self, after: int, *, upto: int) -> bool:
        """Sends ``(after, upto]`` from the log without moving ``last_seq``. False: the
        client was told to resync."""
        cursor = after
        while cursor < upto and not self.client_gone:
            page = await self._page(cursor, upto)
            if page is None:
                return False
            if page.resync_required or not page.events:
                await self._resync(page.head)
                return False
            for event in page.events:
                await self._deliver(event.type, event.project_id, wire_text(event.envelope()), event.old_stream)
            cursor = page.events[-1].seq
        return True

    async def _catch_up(self, upto: int | None = None) -> bool:
        """Sends everything above ``last_seq`` (up to ``upto``) from the log, in order."""
        self.checked_at = time.monotonic()
        while not self.client_gone:
            page = await self._page(self.last_seq, upto)
            if page is None:
                return False
            if page.resync_required:
                await self._resync(page.head)
                return False
            for event in page.events:
                await self._deliver(event.type, event.project_id, wire_text(event.envelope()), event.old_stream)
                self.last_seq = event.seq
            if len(page.events) < REPLAY_PAGE:
                break
        return True

    async def _resync(self, head: int) -> None:
        # The client reloads its state (which includes everything up to head) and the
        # stream continues above it.
        metrics.WS_RESYNCS.inc()
        self.last_seq = max(self.last_seq, head)
        await self.send_json({"type": "resync_required", "seq": self.last_seq})


class OldClientsStreamConsumer(EventStreamConsumer):
    """``/``: the old system's stream for its unchanged clients (CLI, agents UI, their tests;
    DESIGN §5). No greeting: the socket opens once the connection is joined, so every event
    committed after that reaches it. Only the events the old server sent (``Event.old_stream``,
    decided by the write path), in the same envelope. ``ping`` answers ``{type: "pong",
    timestamp}``; anything else a client sends is ignored, as the old server did (its agents UI
    sends heartbeats). The delivery guarantee is the one of ``/ws`` from the connection on, and
    a change made in this process is written to the socket before its HTTP answer leaves
    (broadcast.OLD_CLIENTS_WAIT_SECONDS), as the old server did."""

    old_clients_only = True
    joined: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def connect(self) -> None:
        if await self._open(accept_first=False) is not None and self.group is not None:
            self.joined = self.group
            old_client_joined(self.joined, self)

    def reached(self, seq: int) -> asyncio.Future[None]:
        """Done once this connection has handled every event up to ``seq`` (or is gone)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append((seq, done))
        self._wake()
        return done

    def _wake(self) -> None:
        gone = self.tenant_id is None or self.client_gone
        waiting = []
        for seq, done in self.waiters:
            if gone or self.last_seq >= seq:
                if not done.done():
                    done.set_result(None)
            else:
                waiting.append((seq, done))
        self.waiters = waiting

    async def maestro_events(self, message: dict[str, Any]) -> None:
        try:
            await super().maestro_events(message)
        finally:
            self._wake()

    async def _release(self) -> None:
        joined, self.joined = self.joined, None
        if joined is not None:
            old_client_left(joined, self)
        await super()._release()
        self.tenant_id = None
        self._wake()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping" and await self._access_still_valid():
            await self._fill_from_log_if_due()
            await self.send_json({"type": "pong", "timestamp": _now_ms()})

    async def _error(self, message: str, code: str = "VALIDATION_ERROR") -> None:
        pass  # the old clients get no error frames: binary or unparsable messages are dropped
