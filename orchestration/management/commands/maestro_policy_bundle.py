"""Writes the policy bundle Maestro evaluates (the shipped ``policies/`` and
``MAESTRO_POLICY_DIR``) as a directory an OPA server loads: ``opa run --server DIR``. The
bundle's revision (its content hash, the version denials are recorded with) is in its
``data.json`` and ``.manifest``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maestro.policy.bundle import bundle_write


class Command(BaseCommand):
    help = "Write the policy bundle (Rego modules and data) for an OPA server; prints its revision."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", metavar="DIR", required=True, help="directory to write (created; files replaced)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            bundle = bundle_write(Path(opts["out"]))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(bundle.revision)
