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


def as_openapi(name: str) -> dict[str, Any]:
    """The schema in OpenAPI 3.0's dialect, for the published API document: ``if type is X then
    …`` branches become ``oneOf`` alternatives, a numeric ``exclusiveMinimum`` the boolean form."""
    out: dict[str, Any] = _openapi(validator(name).schema)
    return out


def _openapi(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi(v) for k, v in node.items() if k not in ("$schema", "title", "allOf")}
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("exclusiveMinimum"), (int, float)) and not isinstance(out["exclusiveMinimum"], bool):
        out["minimum"], out["exclusiveMinimum"] = out["exclusiveMinimum"], True
    if "enum" in out and "type" not in out and all(isinstance(v, str) for v in out["enum"]):
        out["type"] = "string"
    branches = [b for b in node.get("allOf", []) if "if" in b and "then" in b]
    if branches:  # each branch: the base object narrowed to one value of its discriminating key
        base = {k: v for k, v in out.items() if k != "properties"}
        out = {"oneOf": [_branch(base, out.get("properties", {}), b) for b in branches]}
    return out


def _branch(base: dict[str, Any], properties: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    then = _openapi(branch["then"])
    narrowed = {k: _openapi(v) for k, v in branch["if"].get("properties", {}).items()}
    merged = {k: v for k, v in {**properties, **then.get("properties", {})}.items() if v is not True}
    merged.update({k: {**properties.get(k, {}), **v} for k, v in narrowed.items()})
    required = sorted({*base.get("required", []), *then.get("required", [])})
    return {**base, **{k: v for k, v in then.items() if k != "properties"}, "properties": merged,
            "required": required}
