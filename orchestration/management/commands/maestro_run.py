"""Runs Maestro on one machine: migrate, seed, print the URL and an admin login/token, then
web + worker + scheduler. Embedded default (no MAESTRO_REDIS_URL): one process — jobs run
in-process after commit and the scheduler is a thread. With Redis: a Celery worker and the
scheduler run as child processes next to the web server."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandParser

from maestro import scheduler
from maestro.core.actors import Actor
from maestro.core.roles import Role
from maestro.processes import serve
from maestro.queue import run_deferred_now
from maestro.tenancy.models import ApiToken, hash_token
from maestro.tenancy.services import api_token_create, api_token_revoke, default_tenant, membership_set

ADMIN_USERNAME = "admin"
RUN_TOKEN_NAME = "maestro_run"


class Command(BaseCommand):
    help = "Migrate, seed and run web + worker + scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.MAESTRO_HOST)
        parser.add_argument("--port", type=int, default=settings.MAESTRO_PORT)
        parser.add_argument("--no-serve", action="store_true", help="prepare and print, then exit")

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if "maestro_seed" in get_commands():
            call_command("maestro_seed", verbosity=0)
        password = self._ensure_admin()
        token = self._token()
        # Listening on every interface (0.0.0.0, ::) is not an address a browser can open.
        shown = "127.0.0.1" if opts["host"] in ("0.0.0.0", "::", "") else opts["host"]
        url = f"http://{shown}:{opts['port']}"
        mode = "PostgreSQL" if settings.DATABASE_URL else f"SQLite ({settings.DATABASES['default']['NAME']})"
        queue = "Redis" if settings.REDIS_URL else "in-process"
        self.stdout.write(
            f"\nMaestro is starting at {url}\n"
            f"  dashboard: {url}/  login {ADMIN_USERNAME} / {password}  (runs, board, loops, live)\n"
            f"  admin:     {url}/admin/  (the same login)\n"
            f"  API token: {token}   (curl -H 'Authorization: Bearer {token}' {url}/api/projects)\n"
            f"  API docs:  {url}/api/docs/   WebSocket: ws://{shown}:{opts['port']}/ws\n"
            f"  stores:    database {mode}; queue and realtime {queue}\n"
        )
        if opts["no_serve"]:
            return
        self._serve(opts["host"], opts["port"])

    def _ensure_admin(self) -> str:
        User = get_user_model()
        pw_file = Path(settings.VAR_DIR) / "admin_password"
        user = User.objects.filter(username=ADMIN_USERNAME).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(ADMIN_USERNAME, "", password)
            pw_file.parent.mkdir(parents=True, exist_ok=True)
            pw_file.write_text(password)
            pw_file.chmod(0o600)
            membership_set(user=user, tenant=default_tenant(), role=Role.ADMIN, actor=Actor.system("maestro_run"))
            return password
        # The operator may have changed it since; we only ever know the first one.
        return pw_file.read_text().strip() if pw_file.exists() else "(unchanged: set with manage.py changepassword)"

    def _token(self) -> str:
        """The token printed last time while it still works (scripts and clients keep it across
        restarts); a new one only when it was revoked or its file is gone."""
        token_file = Path(settings.VAR_DIR) / "api_token"
        user = get_user_model().objects.get(username=ADMIN_USERNAME)
        if token_file.exists():
            raw = token_file.read_text().strip()
            if ApiToken.objects.filter(user=user, name=RUN_TOKEN_NAME, revoked_at__isnull=True,
                                       key_hash=hash_token(raw)).exists():
                return raw
        actor = Actor.system("maestro_run")
        for old in ApiToken.objects.filter(user=user, name=RUN_TOKEN_NAME, revoked_at__isnull=True):
            api_token_revoke(token=old, actor=actor)  # its raw value is lost: nobody can use it
        _, raw = api_token_create(user=user, tenant=default_tenant(), name=RUN_TOKEN_NAME, actor=actor)
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(raw + "\n")
        token_file.chmod(0o600)
        return raw

    def _serve(self, host: str, port: int) -> None:
        """The three processes on one machine: with Redis, bin/worker and bin/scheduler as
        children of this web process; in the embedded default, jobs run in-process and the
        scheduler is a thread."""
        children: list[subprocess.Popen[bytes]] = []
        stop = threading.Event()
        if settings.REDIS_URL:
            for process in ("worker", "scheduler"):
                children.append(subprocess.Popen([sys.executable, "-m", "maestro.processes", process],
                                                 cwd=settings.BASE_DIR, env=dict(os.environ)))
        else:
            threading.Thread(target=scheduler.run, kwargs={"stop": stop}, name="scheduler", daemon=True).start()
        try:
            serve(host=host, port=port, workers=1)
        finally:
            stop.set()
            run_deferred_now()  # embedded: wake-ups still waiting for their delay run before we exit
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
