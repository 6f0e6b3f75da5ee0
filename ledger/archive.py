"""Write-once archive storage and the segment format (DESIGN §6).

``MAESTRO_ARCHIVE_URL`` picks the backend:

- ``file:///path`` — a directory. Objects are written to a temporary file (mode 0444) and
  hard-linked into place, so an object appears complete or not at all and an existing one is
  never replaced (``link`` fails instead); files stay read-only.
- ``s3://bucket/prefix`` — S3 with Object Lock in COMPLIANCE mode (the bucket must have Object
  Lock enabled): every object is put with a retain-until date, ``If-None-Match: *`` and a
  SHA-256 checksum, so no one, not even the account root, can change or delete it before then.

Both are idempotent for identical content: re-putting the same bytes (a retry after a crash
between upload and bookkeeping) succeeds; different bytes under an existing key are refused.

Every signed checkpoint is written on its own as soon as its batch commits
(``tenant/<slug>/checkpoints/<treeSize>.json``: the checkpoint as the API shows it, canonical JSON;
``ledger/checkpoint_archive.py``), so a database superuser who rewrites the ledger cannot take its
evidence with it.

A segment is JSON lines, each line canonical JSON (RFC 8785): a header
``{format, tenantId, tenantSlug, firstSequence, lastSequence, previousHash, startFrontier,
checkpoint, publicKey}`` and then one ``{entry, payload}`` per entry. A manifest beside it
holds the segment's SHA-256 and size.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.utils import timezone

from ledger.hashing import canonical_json

FORMAT = "maestro-ledger-segment/1"


class ArchiveError(Exception):
    """Storage failed (retry later)."""


class ArchiveConflict(ArchiveError):
    """A different object already exists under this key; write-once storage will not replace it."""


class Backend(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> list[str]: ...


class FileBackend:
    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ArchiveError(f"archive key escapes the archive root: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        try:
            self._put(self._path(key), key, data)
        except OSError as exc:
            raise ArchiveError(f"writing {key} to {self.url} failed: {exc}") from exc

    def _put(self, path: Path, key: str, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and fails rather than replace an existing object
        except FileExistsError:
            if path.read_bytes() != data:
                raise ArchiveConflict(f"{key} already exists with different content") from None
        finally:
            tmp.unlink()
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"{key} is missing from the archive") from None
        except OSError as exc:
            raise ArchiveError(f"reading {key} from {self.url} failed: {exc}") from exc

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file()
                      and not p.name.startswith("."))


class S3Backend:
    def __init__(self, bucket: str, prefix: str, url: str) -> None:
        import boto3

        self.bucket, self.prefix, self.url = bucket, prefix.strip("/"), url
        self.client = boto3.client("s3", endpoint_url=settings.MAESTRO_ARCHIVE_S3_ENDPOINT_URL)
        self._lock_checked = False

    def _require_object_lock(self) -> None:
        """Without Object Lock on the bucket there is no write-once guarantee: refuse."""
        from botocore.exceptions import ClientError

        if self._lock_checked:
            return
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except ClientError as exc:
            raise ArchiveError(f"bucket {self.bucket} has no Object Lock configuration") from exc
        if config.get("ObjectLockEnabled") != "Enabled":
            raise ArchiveError(f"bucket {self.bucket} does not have Object Lock enabled")
        self._lock_checked = True

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError

        try:
            self._put(key, data)
        except BotoCoreError as exc:  # endpoint unreachable, credentials, …: retry later
            raise ArchiveError(f"S3 put of {key} failed: {exc}") from exc

    def _put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        self._require_object_lock()
        digest = hashlib.sha256(data).digest()
        retain = timezone.now() + timedelta(days=settings.MAESTRO_ARCHIVE_RETENTION_DAYS)
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*",
                ChecksumSHA256=base64.b64encode(digest).decode(),
                ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324 (S3 integrity)
                ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=retain,
                Metadata={"sha256": digest.hex()},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise ArchiveError(f"S3 put of {key} failed: {code}") from exc
            if hashlib.sha256(self.get(key)).digest() != digest:
                raise ArchiveConflict(f"{key} already exists with different content") from None

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
            return body
        except BotoCoreError as exc:
            raise ArchiveError(f"S3 get of {key} failed: {exc}") from exc
        except ClientError as exc:
            raise ArchiveError(f"S3 get of {key} failed: {exc.response.get('Error', {}).get('Code')}") from exc

    def list(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                                Prefix=self._key(prefix)):
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise ArchiveError(f"S3 list of {prefix} failed: {exc}") from exc
        return sorted(keys)


def backend_for(url: str | None = None) -> Backend:
    url = url or settings.MAESTRO_ARCHIVE_URL
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileBackend(Path(unquote(parsed.path)), url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ArchiveError("s3 archive URL needs a bucket: s3://bucket/prefix")
        return S3Backend(parsed.netloc, parsed.path, url)
    raise ArchiveError(f"unsupported archive URL {url!r} (file:// or s3://)")


# ---- segment format -----------------------------------------------------------------------

def segment_key(slug: str, first: int, last: int) -> str:
    return f"tenant/{slug}/segments/{first:012d}-{last:012d}.jsonl"


def manifest_key(key: str) -> str:
    return key[: -len(".jsonl")] + ".manifest.json"


def encode_segment(header: dict[str, Any], lines: Sequence[tuple[Mapping[str, Any], str]]) -> bytes:
    """``lines``: (entry without payload, canonical payload text). Deterministic bytes, so a
    retried upload of the same range is byte-identical."""
    out = [canonical_json({"format": FORMAT, **header})]
    for entry, payload_jcs in lines:
        # JCS of {"entry": …, "payload": …}: keys already in order, payload already canonical.
        out.append(b'{"entry":' + canonical_json(entry) + b',"payload":' + payload_jcs.encode() + b"}")
    return b"\n".join(out) + b"\n"


def encode_manifest(*, key: str, data: bytes, header: dict[str, Any]) -> bytes:
    return canonical_json({"format": FORMAT, "key": key, "sha256": hashlib.sha256(data).hexdigest(),
                           "sizeBytes": len(data), "tenantId": header["tenantId"],
                           "firstSequence": header["firstSequence"], "lastSequence": header["lastSequence"],
                           "checkpoint": header["checkpoint"]}) + b"\n"


@dataclass
class Segment:
    header: dict[str, Any]
    # (entry as the API shows it, without payload; canonical payload text)
    entries: list[tuple[dict[str, Any], str]]


class SegmentFormatError(ArchiveError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def decode_segment(data: bytes) -> Segment:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise SegmentFormatError("segment is empty", 0)
    try:
        header = json.loads(lines[0])
    except ValueError as exc:
        raise SegmentFormatError(f"header is not JSON: {exc}", 1) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SegmentFormatError("not a ledger segment header", 1)
    entries = []
    for number, raw in enumerate(lines[1:], start=2):
        try:
            line = json.loads(raw)
            entry, payload = line["entry"], line["payload"]
            if not isinstance(entry, dict):
                raise ValueError("entry is not an object")
            entries.append((entry, canonical_json(payload).decode()))
        except (ValueError, KeyError, TypeError) as exc:
            raise SegmentFormatError(f"line {number} is not a segment entry: {exc}", number) from None
    return Segment(header=header, entries=entries)


def checkpoint_key(slug: str, tree_size: int) -> str:
    return f"tenant/{slug}/checkpoints/{tree_size:012d}.json"


def checkpoints_prefix(slug: str) -> str:
    return f"tenant/{slug}/checkpoints/"


def encode_checkpoint(checkpoint: Mapping[str, Any]) -> bytes:
    """Deterministic bytes, so a retried upload of the same checkpoint is byte-identical."""
    return canonical_json(checkpoint) + b"\n"


def iter_segment_keys(backend: Backend, slug: str) -> Iterator[str]:
    for key in backend.list(f"tenant/{slug}/segments/"):
        if key.endswith(".jsonl"):
            yield key
