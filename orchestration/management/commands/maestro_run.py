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
from maestro.tenancy.models import ApiToken
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
        token = self._fresh_token()
        url = f"http://{opts['host']}:{opts['port']}"
        mode = "PostgreSQL" if settings.DATABASE_URL else f"SQLite ({settings.DATABASES['default']['NAME']})"
        queue = "Redis" if settings.REDIS_URL else "in-process"
        self.stdout.write(
            f"\nMaestro is starting at {url}\n"
            f"  admin:     {url}/admin/  login {ADMIN_USERNAME} / {password}\n"
            f"  API token: {token}   (curl -H 'Authorization: Bearer {token}' {url}/api/projects)\n"
            f"  API docs:  {url}/api/docs/   WebSocket: ws://{opts['host']}:{opts['port']}/ws\n"
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

    def _fresh_token(self) -> str:
        actor = Actor.system("maestro_run")
        user = get_user_model().objects.get(username=ADMIN_USERNAME)
        for old in ApiToken.objects.filter(user=user, name=RUN_TOKEN_NAME, revoked_at__isnull=True):
            api_token_revoke(token=old, actor=actor)
        _, raw = api_token_create(user=user, tenant=default_tenant(), name=RUN_TOKEN_NAME, actor=actor)
        return raw

    def _serve(self, host: str, port: int) -> None:
        import uvicorn

        children: list[subprocess.Popen[bytes]] = []
        stop = threading.Event()
        if settings.REDIS_URL:
            env = dict(os.environ)
            python = sys.executable
            children.append(subprocess.Popen([python, "-m", "celery", "-A", "maestro", "worker", "--loglevel",
                                              "INFO", "--concurrency", "2"], env=env))
            children.append(subprocess.Popen([python, "manage.py", "maestro_scheduler"], env=env,
                                             cwd=settings.BASE_DIR))
        else:
            threading.Thread(target=scheduler.run, kwargs={"stop": stop}, name="scheduler", daemon=True).start()
        try:
            uvicorn.run("maestro.asgi:application", host=host, port=port, log_level="info", lifespan="off")
        finally:
            stop.set()
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
