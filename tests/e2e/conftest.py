"""A real server (bin/web, the production command) on a loopback port, sharing the test
database, and a real headless Chromium driving it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections

CHROMIUM = os.environ.get("MAESTRO_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
LIVE_POOL_MAX = 4
LIVE_APPLICATION_NAME = "maestro-live-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """bin/web, the production command, on a loopback port and the test database; ``log`` is
    where its output (its log lines) goes when the test reads it, else it is inherited."""

    def __init__(self, *, log: Path | None = None, **env: str) -> None:
        settings_dict = connection.settings_dict
        database = (f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
                    f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}")
        port = _free_port()
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        # A small connection pool, so that tests can see the server keeps to it.
        # Started as production starts it: bin/web, with the python3 of this environment first on PATH.
        full_env = {**os.environ, "MAESTRO_ENV": "test", "MAESTRO_DATABASE_URL": database,
                    "MAESTRO_LOG_LEVEL": "WARNING", "MAESTRO_DB_POOL_MAX": str(LIVE_POOL_MAX),
                    "MAESTRO_DB_APPLICATION_NAME": LIVE_APPLICATION_NAME, "MAESTRO_HOST": "127.0.0.1",
                    "MAESTRO_PORT": str(port), "MAESTRO_WEB_WORKERS": "1",
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **env}
        self._env = full_env
        self._start()

    def _start(self) -> None:
        output = open(self.log, "ab") if self.log is not None else None  # closed in stop()
        self._output = output
        self.proc = subprocess.Popen([str(ROOT / "bin" / "web")], cwd=ROOT, env=self._env, stdout=output,
                                     stderr=subprocess.STDOUT if output else None)
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        pytest.fail("bin/web did not start" + (f":\n{self.log.read_text()}" if self.log else ""))

    def restart(self, *, between: Callable[[], None] = lambda: None) -> None:
        """Stops the process, runs ``between`` while it is down, starts it again on its port."""
        self.stop()
        between()
        self._start()

    def stop(self) -> None:
        """Ends the server (its last log lines written) and its database sessions."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._output is not None:
            self._output.close()
            self._output = None
        # The server's connections may outlive it by a moment; the test database is dropped
        # at the end of the session and must have no other sessions then. Only the server's
        # own (named) sessions: this process's other connections stay usable for later tests.
        with connection.cursor() as cur:
            for _ in range(100):  # terminating is asynchronous: wait until they are gone
                cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND application_name = %s",
                            [LIVE_APPLICATION_NAME])
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.05)

    def output(self) -> str:
        """Everything the server wrote, once it has stopped."""
        assert self.log is not None
        self.stop()
        return self.log.read_text()


@pytest.fixture
def live_server_factory(transactional_db) -> Iterator[Callable[..., LiveServer]]:
    """Starts bin/web with extra environment (``log=`` captures its output); stops it at the end."""
    if connection.vendor != "postgresql":
        pytest.skip("the live server shares the test database, which needs PostgreSQL")
    started: list[LiveServer] = []

    def start(**kw: Any) -> LiveServer:
        started.append(LiveServer(**kw))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def live_asgi(live_server_factory) -> str:
    return live_server_factory().url


@pytest.fixture
def browser_page(monkeypatch) -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (bin/test installs it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's ORM calls are plain
    # sync calls between browser steps, which Django would otherwise refuse.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        try:
            yield page
        finally:
            # ORM calls made while Playwright's loop runs get connections of their own context;
            # close them here, in that context, rather than leave them to later tests.
            connections.close_all()
            browser.close()


def sign_in_as_operator(page, live_url: str) -> None:  # type: ignore[no-untyped-def]
    """Creates a superuser and signs the browser into the admin with its password."""
    get_user_model().objects.create_superuser("ops", "", "correct-horse-9")
    page.goto(f"{live_url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "correct-horse-9")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_url}/admin/")
