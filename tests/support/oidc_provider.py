"""A real OpenID provider for the single sign-on tests: django-oidc-provider (PyPI), served by
a tiny Django project of its own (tests/support/idp) in a subprocess, on a free loopback port,
with a SQLite database in the test's tmp dir. Supports the authorization code flow with PKCE,
discovery, and RP-initiated logout (``end_session_endpoint``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OidcProvider:
    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.url}/openid"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self._env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.support.idp.settings",
                     "IDP_SITE_URL": self.url, "IDP_DATABASE": str(directory / "idp.sqlite3"),
                     "PYTHONPATH": str(ROOT)}
        self._env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self._log = open(directory / "idp.log", "wb")  # closed in stop()
        self._django("migrate", "--noinput", "-v", "0")
        self.provision({"key": True})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        pytest.fail("the OpenID provider did not start:\n" + (directory / "idp.log").read_text())

    def _django(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run([sys.executable, *args] if args[0].endswith(".py") else
                       [sys.executable, "-m", "django", *args],
                       cwd=ROOT, env=self._env, input=stdin, text=True, check=True,
                       stdout=self._log, stderr=subprocess.STDOUT)

    def provision(self, spec: dict[str, object]) -> None:
        self._django(str(ROOT / "tests" / "support" / "idp" / "provision.py"), stdin=json.dumps(spec))

    def add_client(self, *, client_id: str, client_secret: str, redirect_uri: str,
                   post_logout_redirect_uri: str | list[str], name: str = "Maestro") -> None:
        after_logout = ([post_logout_redirect_uri] if isinstance(post_logout_redirect_uri, str)
                        else post_logout_redirect_uri)
        self.provision({"clients": [{"name": name, "client_id": client_id, "client_secret": client_secret,
                                     "redirect_uris": [redirect_uri], "post_logout_redirect_uris": after_logout}]})

    def add_user(self, *, username: str, password: str, groups: list[str], email: str = "", name: str = "") -> None:
        self.provision({"users": [{"username": username, "password": password, "groups": groups,
                                   "email": email, "name": name}]})

    def stop(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._log.close()


@pytest.fixture
def oidc_provider(tmp_path: Path) -> Iterator[OidcProvider]:
    provider = OidcProvider(tmp_path)
    try:
        yield provider
    finally:
        provider.stop()
