# Sourced by bin/run and bin/test: a project-local virtualenv with the pinned requirements,
# reinstalled only when a requirements file changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQ="${1:-requirements.txt}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv" >&2
  "$PY" -m venv .venv
fi
base=".venv/.req-$(cat requirements*.txt | sha256sum | cut -c1-16)"
stamp="$base-$(basename "$REQ")"
if [ ! -f "$stamp" ]; then
  echo "==> installing $REQ" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQ" >&2
  rm -f .venv/.req-*; touch "$stamp"
  # requirements-dev.txt includes requirements.txt, so its stamp covers both.
  if [ "$(basename "$REQ")" = "requirements-dev.txt" ]; then touch "$base-requirements.txt"; fi
fi
