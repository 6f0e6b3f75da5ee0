"""The production command of each process (bin/web, bin/worker, bin/scheduler), run as an
operator runs them: configuration errors are one line naming what to do, and the web process
serves on the address it is given."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger import signing

ROOT = Path(__file__).resolve().parents[2]
PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    return subprocess.run(command, cwd=ROOT, env={**base, "PATH": PATH, **env}, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("command", [["bin/web"], ["bin/worker"], ["bin/scheduler"], ["python3", "manage.py", "check"]])
def test_production_without_a_secret_says_so_in_one_line(command):
    r = run(command, MAESTRO_ENV="production")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "maestro: MAESTRO_SECRET_KEY must be set (32+ characters) when MAESTRO_ENV=production; generate one with: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"]


def test_production_without_a_signing_key_names_the_command_that_makes_one():
    r = run(["bin/web"], MAESTRO_ENV="production", MAESTRO_SECRET_KEY="s" * 40)
    assert r.returncode == 2
    [line] = r.stderr.splitlines()
    assert line.startswith("maestro: MAESTRO_LEDGER_SIGNING_KEY must be set") and line.endswith(
        "generate one with: python3 -m ledger.keygen")
    made = run(["python3", "-m", "ledger.keygen"])
    assert made.returncode == 0
    signing.parse_private_key(made.stdout.strip())  # a key production accepts


def test_web_refuses_a_database_that_is_not_migrated(tmp_path):
    r = run(["bin/web"], MAESTRO_ENV="dev", MAESTRO_VAR_DIR=str(tmp_path))
    assert r.returncode == 2
    [line] = r.stderr.splitlines()
    assert line.startswith("maestro: the database is not migrated (") and line.endswith(
        "run python3 manage.py migrate")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A var/ directory whose embedded SQLite database is migrated."""
    var = tmp_path_factory.mktemp("var")
    assert run(["python3", "manage.py", "migrate", "-v0"], MAESTRO_ENV="dev", MAESTRO_VAR_DIR=str(var)).returncode == 0
    return var


def test_worker_without_redis_explains_there_is_nothing_to_start(migrated):
    r = run(["bin/worker"], MAESTRO_ENV="dev", MAESTRO_VAR_DIR=str(migrated))
    assert r.returncode == 2
    assert r.stderr.splitlines() == ["maestro: bin/worker needs MAESTRO_REDIS_URL (without it, jobs run inside the "
                                     "web process and there is no worker to start)"]


def test_web_serves_on_the_address_it_is_given(migrated):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    proc = subprocess.Popen(["bin/web"], cwd=ROOT, env={**base, "PATH": PATH, "MAESTRO_ENV": "dev",
                                                        "MAESTRO_VAR_DIR": str(migrated), "MAESTRO_PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "bin/web did not answer"
                time.sleep(0.2)
        head = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", method="HEAD")
        with urllib.request.urlopen(head, timeout=5) as answer:
            assert (answer.status, answer.read()) == (200, b"")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_a_group_mapping_with_an_unknown_role_stops_the_web_process_in_one_line(tmp_path):
    r = run(["bin/web"], MAESTRO_ENV="dev", MAESTRO_VAR_DIR=str(tmp_path),
            MAESTRO_SSO_GROUP_ROLES="maestro-acme-admins=acme:owner")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "maestro: MAESTRO_SSO_GROUP_ROLES: 'maestro-acme-admins=acme:owner' is not group=tenant:role "
        "with a role of viewer, operator, admin"]


def test_production_with_single_sign_on_and_no_client_secret_says_so_in_one_line():
    r = run(["bin/web"], MAESTRO_ENV="production", MAESTRO_SECRET_KEY="s" * 40,
            MAESTRO_LEDGER_SIGNING_KEY=signing.new_private_key_b64(),
            MAESTRO_SSO_ISSUER="https://idp.example.com/realms/acme", MAESTRO_SSO_CLIENT_ID="maestro")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "maestro: MAESTRO_SSO_CLIENT_SECRET must be set when MAESTRO_SSO_ISSUER is set and MAESTRO_ENV=production "
        "(the secret of the client registered for Maestro at the provider)"]
