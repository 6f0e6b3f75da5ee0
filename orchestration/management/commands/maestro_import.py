"""Imports the old system's state (DESIGN §8): ``maestro_db.json`` (control state) and the
``~/.maestro/data`` layout (projects, tasks, sessions). Every bad file is reported with its
path and reason, the rest is imported, and the command fails if anything was skipped."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug
from django.db import transaction

from maestro.tenancy.models import Tenant
from maestro.tenancy.services import tenant_get_or_create
from orchestration.legacy.control import import_maestro_db
from orchestration.legacy.data import IMPORT_ACTOR, KINDS, ImportReport, legacy_data_import
from orchestration.legacy.format import looks_like_data_dir

DEFAULT_DATA_DIR = "~/.maestro/data"
class _Rollback(Exception):
    pass


def tenant_slug(value: str) -> str:
    try:
        validate_slug(value)
    except ValidationError:
        raise CommandError(f"--tenant {value!r} is not a valid tenant slug") from None
    return value


class Command(BaseCommand):
    help = "Import the old Maestro's maestro_db.json and ~/.maestro/data into a tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--maestro-db", metavar="FILE", help="the old maestro_db.json (control state)")
        parser.add_argument("--data-dir", metavar="DIR",
                            help=f"the old data directory (default {DEFAULT_DATA_DIR} when neither flag is given)")
        parser.add_argument("--tenant", default="default", help="tenant slug (created when missing)")
        parser.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        slug = tenant_slug(opts["tenant"])
        db_file = Path(opts["maestro_db"]).expanduser() if opts["maestro_db"] else None
        data_dir = opts["data_dir"] or (None if db_file else DEFAULT_DATA_DIR)
        data_path = Path(data_dir).expanduser() if data_dir else None
        if data_path is not None and not data_path.is_dir():
            raise CommandError(f"data directory {data_path} does not exist")
        if data_path is not None and not looks_like_data_dir(data_path):
            raise CommandError(f"{data_path} has none of projects/, tasks/, sessions/; is it a Maestro data directory?")
        dry_run = opts["dry_run"]
        failed = False
        try:
            # One outer transaction only for a dry run, so that creating the tenant is undone too.
            with transaction.atomic() if dry_run else nullcontext():
                tenant = tenant_get_or_create(slug=slug)
                if db_file is not None:
                    failed |= self._control(db_file, tenant, dry_run)
                if data_path is not None:
                    report = legacy_data_import(tenant=tenant, data_dir=data_path, actor=IMPORT_ACTOR,
                                                dry_run=dry_run)
                    self._print(report, data_path)
                    failed |= not report.ok
                if dry_run:
                    raise _Rollback
        except _Rollback:
            self.stdout.write("dry run: nothing was written")
        if failed:
            raise CommandError("some input was skipped (see above); everything else was "
                               + ("validated" if dry_run else "imported"))

    def _control(self, db_file: Path, tenant: Tenant, dry_run: bool) -> bool:
        try:
            data = json.loads(db_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.stderr.write(f"SKIPPED {db_file}: unreadable or invalid JSON: {exc}")
            return True
        if not isinstance(data, dict):
            self.stderr.write(f"SKIPPED {db_file}: not a JSON object")
            return True
        report = import_maestro_db(tenant=tenant, data=data, actor=IMPORT_ACTOR, dry_run=dry_run)
        for error in report.errors:
            where = error.get("section") or "file"
            if error.get("index") is not None:
                where += f"[{error['index']}]"
            if error.get("id"):
                where += f" ({error['id']})"
            self.stderr.write(f"SKIPPED {db_file} {where}: {error.get('reason')}")
        self.stdout.write(f"control state ({db_file}):")
        created, present = report.created, report.skipped
        for section in dict.fromkeys([*created, *present]):
            self.stdout.write(f"  {section}: {len(created.get(section, []))} created, "
                              f"{len(present.get(section, []))} already present")
        return not report.ok

    def _print(self, report: ImportReport, data_path: Path) -> None:
        for problem in report.problems:
            self.stderr.write(f"SKIPPED {problem.path}: {problem.reason}")
        for warning in report.warnings:
            self.stderr.write(f"WARNING {warning.path}: {warning.reason}")
        self.stdout.write(f"data directory {data_path}:")
        for kind in KINDS:
            c = report.counts[kind]
            self.stdout.write(f"  {kind}s: {c.created} created, {c.updated} updated, "
                              f"{c.unchanged} unchanged, {c.skipped} skipped")
        self.stdout.write(f"  links: {report.links_created} created")
        self.stdout.write(f"  {len(report.problems)} skipped, {len(report.warnings)} warning(s)")
