"""tests/fixtures/legacy is a copy of the shared sample (../shared/fixtures/legacy), kept in the
repository so the suite runs wherever it is cloned; where the shared one is present, the copy
must match it file for file."""

from pathlib import Path

import pytest

COPY = Path(__file__).resolve().parent / "fixtures" / "legacy"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "legacy"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_copy_holds_the_sample():
    tree = _tree(COPY)
    assert "maestro_db.json" in tree
    assert sum(name.startswith("maestro-data/tasks/") for name in tree) == 12


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not next to this checkout")
def test_the_copy_matches_the_shared_sample():
    assert _tree(COPY) == _tree(SHARED)
