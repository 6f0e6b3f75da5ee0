"""/api/ledger/ (DESIGN §6). Thin: parse, call a service or selector, present.

Appending needs operator; verify, export and archive need admin; the public key is public."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ledger import proofs, selectors, services
from ledger.api.filters import EntryFilter
from ledger.api.serializers import EntryIn, entry_plainly_valid
from ledger.archive import ArchiveError
from ledger.archiver import ArchiveRefused, archive_tenant
from ledger.keys import ALGORITHM, public_key_b64
from ledger.representations import (
    CSV_COLUMNS,
    ArchivedOut,
    CheckpointOut,
    ConsistencyProofOut,
    EntryOut,
    InclusionProofOut,
    PublicKeyOut,
    ReceiptOut,
    SegmentOut,
    VerifyReportOut,
    checkpoint_repr,
    csv_row,
    entry_repr,
    receipt_repr,
)
from ledger.verify import verify_chain
from maestro.api import idempotency
from maestro.api.filters import filtered
from maestro.api.openapi import doc, shape
from maestro.api.paging import Order, page
from maestro.api.streaming import StreamingResponse
from maestro.api.views import MaestroAPIView
from maestro.core.exceptions import Conflict, IdempotencyKeyReused, MaestroError, ValidationFailed
from maestro.core.roles import Role
from maestro.core.wire import to_iso


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "1", "false", "0", ""):
        raise ValidationFailed(f"{name} must be true or false", details={name: raw})
    return raw in ("true", "1")

EXPORT_ORDER = Order.of("sequence_number")
# Rows read (with their payloads) and rendered per part of an export: what the export holds in
# memory at a time, whatever its length.
EXPORT_PAGE_ROWS = 100


def sequence_order(request: Request, field: str, *, default: str) -> Order:
    """``?order=asc|desc`` over ``field``; ``ASC``/``DESC`` as the old ledger API wrote it."""
    order = request.query_params.get("order", default)
    if order not in ("asc", "desc", "ASC", "DESC"):
        raise ValidationFailed("order must be asc or desc (or ASC, DESC)", details={"order": order})
    return Order.of(field if order in ("asc", "ASC") else f"-{field}")


def _with_payloads(tenant_id: int, entries: list[Any]) -> list[EntryOut]:
    payloads = selectors.entry_payloads(tenant_id=tenant_id, entries=entries)
    return [entry_repr(e, payloads[e.sequence_number]) for e in entries]


# Marks an item whose id was derived from the Idempotency-Key (not sent by the client); popped
# before the item reaches the service.
_KEY_DERIVED = "_id_from_key"


def _key_keeps_its_first_request(key: str, derived: list[bool], results: list[tuple[Any, bool]]) -> None:
    """A key the store no longer remembers (kept ``MAESTRO_IDEMPOTENCY_KEY_HOURS``, or used
    before keys were stored) still names its entries through the ids derived from it: a request
    that finds some of those and not others is another request under an old key (a longer or
    shorter batch), not a retry, and is refused whole (the caller's transaction rolls back)."""
    created = [was_created for (_, was_created), from_key in zip(results, derived, strict=True) if from_key]
    if any(created) and not all(created):
        raise IdempotencyKeyReused(details={"idempotencyKey": key})


# Besides 202 (accepted): 200 when every entry was there already (a retry), and with ?wait=true
# the sequenced entries, 201 (or 200).
RECEIPT_OR_ENTRY = {"anyOf": [shape(ReceiptOut), shape(EntryOut)]}
BATCH_MAX = settings.MAESTRO_LEDGER_MAX_BATCH_ENTRIES


class _AppendMixin(MaestroAPIView):
    # The ledger keeps its own transactions: an append claims its Idempotency-Key in its own (_append),
    # and ?wait=true waits for the sequencer after the commit.
    write_unit = False
    resource_type = "ledger_entry"

    def _item(self, data: Any, index: int | None, key: str | None, form: EntryIn | None = None) -> dict[str, Any]:
        """One entry of the body, validated (by ``form``, shared by a batch's entries) and
        given the caller's actor and its key-derived id."""
        try:
            if form is None:
                item = entry_plainly_valid(data) or self.validated(EntryIn, data)
            elif not isinstance(data, dict):
                raise ValidationFailed("Request body must be a JSON object")
            else:
                item = entry_plainly_valid(data) or dict(form.run_validation(data))
        except ValidationFailed as exc:
            if index is None:
                raise
            raise ValidationFailed(f"entries[{index}]: {exc.message}", details={"index": index, **exc.details}) \
                from None
        except DRFValidationError as exc:
            if index is None:
                raise
            field, messages = next(iter(exc.detail.items())) if isinstance(exc.detail, dict) else ("", exc.detail)
            message = messages[0] if isinstance(messages, list) and messages else messages
            raise ValidationFailed(f"entries[{index}]: {field}: {message}",
                                   details={"index": index, "fields": exc.detail}) from None
        actor = self.access.actor
        item.setdefault("actor_id", actor.name)
        item.setdefault("actor_type", actor.actor_type if actor.actor_type in ("user", "api") else "api")
        if key is not None and "id" not in item:
            suffix = key if index is None else f"{key}#{index}"
            item["id"] = services.idempotency_entry_id(tenant_id=self.access.tenant.pk, key=suffix)
            item[_KEY_DERIVED] = True
        return item

    def _append(self, request: Request, items: list[dict[str, Any]], *, many: bool) -> Response:
        """Appends ``items`` and answers. With an ``Idempotency-Key`` the key is claimed (the
        house store, ``maestro.api.idempotency``: method, path and body) in the appending
        transaction: the same request again answers its entries as they are now (200,
        ``Idempotent-Replayed``) and appends nothing; the key with another request is a 422."""
        tenant_id = self.access.tenant.pk
        key = request.headers.get("Idempotency-Key")
        derived = [bool(item.pop(_KEY_DERIVED, False)) for item in items]
        with transaction.atomic():
            claim = None
            if key is not None:
                claim = idempotency.store().claim(tenant_id=tenant_id, key=key, fingerprint=idempotency.fingerprint(
                    "POST", request.path, request.data))
            if isinstance(claim, idempotency.Stored):
                rows = selectors.entries_or_intake(tenant_id=tenant_id, ids=[item["id"] for item in items])
                results: list[tuple[Any, bool]] = [(row, False) for row in rows]
            else:
                results = list(services.entries_append(tenant_id=tenant_id, items=items,
                                                       submitted_by=self.access.actor))
                if claim is not None:
                    assert key is not None
                    _key_keeps_its_first_request(key, derived, results)
                    receipts = [receipt_repr(row) for row, _ in results]
                    idempotency.store().store(claim, status_code=202, body=receipts if many else receipts[0],
                                              headers={})
        response = self._respond(request, results, many=many)
        if claim is not None and (isinstance(claim, idempotency.Stored) or any(derived)) \
                and not any(created for _, created in results):
            response["Idempotent-Replayed"] = "true"
        return response

    def _respond(self, request: Request, results: list[tuple[Any, bool]], *, many: bool) -> Response:
        tenant_id = self.access.tenant.pk
        created = any(c for _, c in results)
        if _flag(request, "wait"):
            entries = services.entries_wait(tenant_id=tenant_id, ids=[row.id for row, _ in results])
            if entries is not None:
                sequenced = _with_payloads(tenant_id, entries)
                return Response(sequenced if many else sequenced[0], status=201 if created else 200)
            results = [(selectors.entry_or_intake(tenant_id=tenant_id, entry_id=row.id) or row, c)
                       for row, c in results]
        receipts = [receipt_repr(row) for row, _ in results]
        return Response(receipts if many else receipts[0], status=202 if created else 200)


class EntryListView(_AppendMixin):
    @doc(many=True, paged=True, response=EntryOut, op="ledger_entries_list", filters=EntryFilter, ordered=True)
    def get(self, request: Request) -> Response:
        tenant_id = self.access.tenant.pk
        return self.paged(request, selectors.entries_list(tenant_id=tenant_id), filters=EntryFilter,
                          order=sequence_order(request, "sequence_number", default="asc"),
                          present_all=partial(_with_payloads, tenant_id))

    @doc(EntryIn, status=202, response=ReceiptOut, op="ledger_entries_append",
         others={200: RECEIPT_OR_ENTRY, 201: EntryOut})
    def post(self, request: Request) -> Response:
        return self._append(request, [self._item(request.data, None, request.headers.get("Idempotency-Key"))],
                            many=False)


class EntryBatchView(_AppendMixin):
    @doc(EntryIn(many=True, min_length=1, max_length=BATCH_MAX), status=202,  # type: ignore[call-arg]
         many=True, response=ReceiptOut, op="ledger_entries_append_batch",
         others={200: {"type": "array", "items": RECEIPT_OR_ENTRY}, 201: EntryOut})
    def post(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, list) or not data:
            raise ValidationFailed("Request body must be a non-empty JSON array of entries")
        limit = settings.MAESTRO_LEDGER_MAX_BATCH_ENTRIES
        if len(data) > limit:
            raise ValidationFailed(f"at most {limit} entries per batch", details={"limit": limit, "count": len(data)})
        key = request.headers.get("Idempotency-Key")
        # One serializer for the whole batch: a serializer copies its fields when it is made,
        # which for a batch of entries took longer than validating them.
        form = EntryIn()
        return self._append(request, [self._item(raw, index, key, form) for index, raw in enumerate(data)],
                            many=True)


class EntryDetailView(MaestroAPIView):
    resource_type = "ledger_entry"

    @doc(response=EntryOut, op="ledger_entries_get", others={202: ReceiptOut})
    def get(self, request: Request, entry_id: str) -> Response:
        """The entry; while it is still pending, its receipt with 202."""
        pending = selectors.intake_get(tenant_id=self.access.tenant.pk, entry_id=entry_id)
        if pending is not None:
            return Response(receipt_repr(pending), status=202)
        entry = selectors.entry_get(tenant_id=self.access.tenant.pk, entry_id=entry_id)
        return Response(_with_payloads(self.access.tenant.pk, [entry])[0])


class EntryProofView(MaestroAPIView):
    resource_type = "ledger_entry"

    @doc(op="ledger_entries_proof", response=InclusionProofOut,
         parameters=[OpenApiParameter("treeSize", {"type": "integer", "minimum": 1},
                                      description="the tree to prove inclusion in (default: all)")])
    def get(self, request: Request, entry_id: str) -> Response:
        entry = selectors.entry_get(tenant_id=self.access.tenant.pk, entry_id=entry_id)
        return Response(proofs.inclusion(tenant_id=self.access.tenant.pk, entry=entry,
                                         tree_size=request.query_params.get("treeSize")))


class ConsistencyView(MaestroAPIView):
    resource_type = "ledger"

    @doc(op="ledger_consistency", response=ConsistencyProofOut,
         parameters=[OpenApiParameter("first", {"type": "integer", "minimum": 0}, required=True),
                     OpenApiParameter("second", {"type": "integer", "minimum": 1})])
    def get(self, request: Request) -> Response:
        return Response(proofs.consistency(tenant_id=self.access.tenant.pk, first=request.query_params.get("first"),
                                           second=request.query_params.get("second")))


class CheckpointListView(MaestroAPIView):

    @doc(many=True, paged=True, response=CheckpointOut, op="ledger_checkpoints_list", ordered=True)
    def get(self, request: Request) -> Response:
        return self.paged(request, selectors.checkpoints_list(tenant_id=self.access.tenant.pk),
                          order=sequence_order(request, "tree_size", default="desc"), present=checkpoint_repr)


class PublicKeyView(MaestroAPIView):
    """Public: anyone holding a checkpoint must be able to check its signature."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @doc(op="ledger_public_key", response=PublicKeyOut)
    def get(self, request: Request) -> Response:
        return Response({"algorithm": ALGORITHM, "publicKey": public_key_b64()})


class VerifyView(MaestroAPIView):
    # The ledger keeps its own transactions (and, for appends, its own Idempotency-Key rule).
    write_unit = False
    resource_type = "ledger"
    write_role = Role.ADMIN

    @doc(op="ledger_verify", response=VerifyReportOut)
    def post(self, request: Request) -> Response:
        return Response(verify_chain(tenant_id=self.access.tenant.pk))


class SegmentListView(MaestroAPIView):

    @doc(many=True, op="ledger_segments_list", response=SegmentOut)
    def get(self, request: Request) -> Response:
        return Response([{"firstSequence": s.first_sequence, "lastSequence": s.last_sequence, "key": s.key,
                          "sha256": s.sha256, "sizeBytes": s.size_bytes, "url": s.url,
                          "archivedAt": to_iso(s.archived_at),
                          "payloadsPruned": s.payloads_pruned_at is not None}
                         for s in selectors.segments_list(tenant_id=self.access.tenant.pk)])


class ArchiveView(MaestroAPIView):
    """Seal and archive now (``force``: include the unsealed tail up to the last checkpoint)."""
    # The ledger keeps its own transactions (and, for appends, its own Idempotency-Key rule).
    write_unit = False

    resource_type = "ledger"
    write_role = Role.ADMIN

    @doc(op="ledger_archive", response=ArchivedOut, errors=(503,))
    def post(self, request: Request) -> Response:
        try:
            segments = archive_tenant(tenant_id=self.access.tenant.pk, force=_flag(request, "force"))
        except ArchiveRefused as exc:
            first = exc.report["errors"][0] if exc.report["errors"] else {}
            raise Conflict("The range to archive does not verify; nothing was archived",
                           details={"firstBadSequence": first.get("sequenceNumber"), "error": first.get("error")}) \
                from None
        except ArchiveError as exc:
            raise MaestroError(f"The archive is unavailable: {exc}", code="ARCHIVE_UNAVAILABLE", status_code=503) \
                from None
        return Response({"archived": [{"firstSequence": s.first_sequence, "lastSequence": s.last_sequence,
                                       "key": s.key, "sha256": s.sha256} for s in segments]})


class _JSONOnly(DefaultContentNegotiation):
    """``?format=`` names the export format here, not a DRF renderer; errors stay JSON."""

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class ExportView(MaestroAPIView):
    resource_type = "ledger"
    read_role = Role.ADMIN
    content_negotiation_class = _JSONOnly

    @doc(op="ledger_export", filters=EntryFilter, parameters=[OpenApiParameter("format", str, enum=["json", "csv"])],
         response={"application/json": {"type": "array", "items": shape(EntryOut)},
                   "text/csv": {"type": "string", "description": "a header row, then one row per entry"}})
    def get(self, request: Request) -> StreamingResponse:
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ValidationFailed("format must be json or csv", details={"format": fmt})
        tenant = self.access.tenant
        qs = filtered(EntryFilter, request, selectors.entries_list(tenant_id=tenant.pk))
        chunks = _export_json(tenant.pk, qs) if fmt == "json" else _export_csv(tenant.pk, qs)
        response = StreamingResponse(chunks, content_type="application/json" if fmt == "json" else "text/csv")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="ledger-{tenant.slug}-{stamp}.{fmt}"'
        return response


def _chunks(tenant_id: int, qs: Any) -> Iterator[list[EntryOut]]:
    cursor = None
    while True:
        chunk = page(qs, order=EXPORT_ORDER, limit=EXPORT_PAGE_ROWS, cursor=cursor)
        if chunk.items:
            yield _with_payloads(tenant_id, chunk.items)
        if chunk.next_cursor is None:
            return
        cursor = chunk.next_cursor


def _export_json(tenant_id: int, qs: Any) -> Iterator[bytes]:
    yield b"["
    first = True
    for chunk in _chunks(tenant_id, qs):
        for body in chunk:
            yield (b"" if first else b",") + json.dumps(body, ensure_ascii=False).encode()
            first = False
    yield b"]"


def _export_csv(tenant_id: int, qs: Any) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for chunk in _chunks(tenant_id, qs):
        for body in chunk:
            writer.writerow(csv_row(body))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()

