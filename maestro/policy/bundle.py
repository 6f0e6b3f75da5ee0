"""The policy bundle: the shipped ``policies/`` directory and the operators' extra directories
(``MAESTRO_POLICY_DIR``), their ``.rego`` modules and ``.json`` data documents, and the
bundle's revision, a content hash every denial is recorded with."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

REVISION_PREFIX = "sha256:"


@dataclass(frozen=True)
class PolicyFile:
    name: str  # "<directory number>/<path inside it>": unique, and what the revision hashes
    path: Path
    text: str


@dataclass(frozen=True)
class Bundle:
    modules: tuple[PolicyFile, ...]
    data: tuple[PolicyFile, ...]
    revision: str

    def data_documents(self) -> list[Any]:
        """Each data file's document, then the bundle's own (``data.maestro.bundle.revision``)."""
        return [*(json.loads(f.text) for f in self.data), {"maestro": {"bundle": {"revision": self.revision}}}]


def directories() -> list[Path]:
    return [Path(settings.MAESTRO_POLICY_DEFAULT_DIR), *(Path(d) for d in settings.MAESTRO_POLICY_DIRS)]


def _files(dirs: list[Path]) -> list[tuple[str, Path]]:
    found = []
    for number, directory in enumerate(dirs):
        if not directory.is_dir():
            raise FileNotFoundError(f"policy directory {directory} does not exist")
        for path in sorted(p for p in directory.rglob("*") if p.suffix in (".rego", ".json") and p.is_file()):
            found.append((f"{number}/{path.relative_to(directory).as_posix()}", path))
    return found


def fingerprint() -> tuple[tuple[str, int, int], ...]:
    """What changes when a file of the bundle does (path, mtime, size): cheap to take on every
    decision, so an edited policy is used from the next decision on."""
    return tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for _, path in _files(directories()))


def bundle_load() -> Bundle:
    """Reads every file of the bundle; OSError / ValueError when one cannot be read."""
    files = [PolicyFile(name, path, path.read_text(encoding="utf-8")) for name, path in _files(directories())]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.text.encode() + b"\0")
    modules = tuple(f for f in files if f.path.suffix == ".rego")
    data = tuple(f for f in files if f.path.suffix == ".json")
    for f in data:
        try:
            json.loads(f.text)
        except ValueError as exc:
            raise ValueError(f"{f.path}: not JSON: {exc}") from None
    return Bundle(modules=modules, data=data, revision=REVISION_PREFIX + digest.hexdigest()[:16])


def bundle_write(target: Path) -> Bundle:
    """Writes the bundle as a directory an OPA server loads (``opa run --server DIR``): the
    modules, one merged ``data.json`` with the revision in it, and a ``.manifest``."""
    bundle = bundle_load()
    target.mkdir(parents=True, exist_ok=True)
    for f in bundle.modules:
        out = target / f.name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f.text, encoding="utf-8")
    merged: dict[str, Any] = {}
    for doc in bundle.data_documents():
        _merge(merged, doc)
    (target / "data.json").write_text(json.dumps(merged, indent=2, sort_keys=True), encoding="utf-8")
    (target / ".manifest").write_text(json.dumps({"revision": bundle.revision, "roots": [""]}), encoding="utf-8")
    return bundle


def _merge(into: dict[str, Any], doc: Any) -> None:
    if not isinstance(doc, dict):
        raise ValueError("a policy data file must hold a JSON object")
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
