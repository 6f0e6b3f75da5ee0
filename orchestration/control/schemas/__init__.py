"""JSON schemas for control-state documents, loaded once and checked with jsonschema."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=16)
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((_DIR / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(name: str, document: Any) -> list[str]:
    """Human-readable problems, each prefixed with its JSON path (``$`` for the root)."""
    found = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{e.json_path}: {e.message}" for e in found]


def properties(name: str) -> set[str]:
    """The top-level keys the schema describes."""
    return set(validator(name).schema.get("properties", {}))
