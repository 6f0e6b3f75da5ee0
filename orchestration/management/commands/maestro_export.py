"""Writes a tenant's state back in the old system's layout (DESIGN §8): ``--out DIR`` gets
``projects/``, ``tasks/<projectId>/`` and ``sessions/``; ``--maestro-db FILE`` gets the control
state. ``maestro_import`` reads both back. Never overwrites: the targets must not exist yet
(an empty directory is fine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maestro.tenancy.models import Tenant
from orchestration.legacy.control import export_maestro_db
from orchestration.legacy.data import KINDS, legacy_data_export
from orchestration.management.commands.maestro_import import tenant_slug


class Command(BaseCommand):
    help = "Export a tenant's projects, tasks, sessions (and control state) in the old Maestro layout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", metavar="DIR", help="directory for projects/, tasks/, sessions/")
        parser.add_argument("--maestro-db", metavar="FILE", help="file for the control state (maestro_db.json)")
        parser.add_argument("--tenant", default="default", help="tenant slug")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["out"] and not opts["maestro_db"]:
            raise CommandError("give --out DIR and/or --maestro-db FILE")
        slug = tenant_slug(opts["tenant"])
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"tenant {slug!r} does not exist")
        out = Path(opts["out"]).expanduser() if opts["out"] else None
        db_file = Path(opts["maestro_db"]).expanduser() if opts["maestro_db"] else None
        if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} exists and is not an empty directory; refusing to overwrite")
        if db_file is not None and db_file.exists():
            raise CommandError(f"{db_file} exists; refusing to overwrite")
        failed = False
        if out is not None:
            report = legacy_data_export(tenant=tenant, out_dir=out)
            for problem in report.problems:
                self.stderr.write(f"SKIPPED {problem.path}: {problem.reason}")
            self.stdout.write(f"{out}: " + ", ".join(f"{report.counts[k]} {k}s" for k in KINDS))
            failed = bool(report.problems)
        if db_file is not None:
            data = export_maestro_db(tenant=tenant)
            db_file.parent.mkdir(parents=True, exist_ok=True)
            db_file.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
            self.stdout.write(f"{db_file}: control state written")
        if failed:
            raise CommandError("some rows could not be exported (see above)")
