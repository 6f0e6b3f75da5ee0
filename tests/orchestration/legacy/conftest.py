from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.orchestration.legacy.helpers import DATA


@pytest.fixture
def legacy_dir() -> Path:
    return DATA


@pytest.fixture
def legacy_copy(legacy_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the sample data directory."""
    target = tmp_path / "data"
    shutil.copytree(legacy_dir, target)
    return target
