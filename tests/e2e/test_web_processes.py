"""bin/web with several processes (maestro.web_supervisor): each process listens on a socket of
its own on the one port, so connections opened together spread over the processes (with one
shared socket, all 32 of a client's keep-alive connections could land on one process); a process
that dies is replaced while the port keeps answering; SIGTERM ends them all."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _web_processes(supervisor: int) -> list[int]:
    """bin/web's uvicorn processes: the supervisor's children, less multiprocessing's helper."""
    return [pid for pid in _children(supervisor)
            if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]


def _sockets(port: int, state: str) -> set[int]:
    """Inodes of the IPv4 TCP sockets on local ``port`` in ``state`` ("0A" listen, "01" established)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(int(fields[9]))
    return inodes


def _owned(pid: int, inodes: set[int]) -> set[int]:
    owned = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and int(target[8:-1]) in inodes:
            owned.add(int(target[8:-1]))
    return owned


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _both_serving(server: Any) -> list[int]:
    """The two web processes, once each listens (a process listens only once it serves)."""
    deadline = time.monotonic() + 60
    while len(processes := _web_processes(server.proc.pid)) < 2 or not all(
            _owned(pid, _sockets(server.port, "0A")) for pid in processes):
        assert time.monotonic() < deadline, "two listening web processes did not start"
        time.sleep(0.1)
    return processes


def test_each_web_process_listens_on_its_own_socket_and_connections_spread(live_server_factory):
    server = live_server_factory(MAESTRO_WEB_WORKERS="2")
    processes = _both_serving(server)
    listening = _sockets(server.port, "0A")
    owned = [_owned(pid, listening) for pid in processes]
    # each process its own listening socket; the supervisor holds the port without listening
    assert len(listening) == 2 and all(len(o) == 1 for o in owned) and owned[0] != owned[1]
    assert _owned(server.proc.pid, listening) == set()
    # when a client opens 32 connections at once and uses each
    clients = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(32)]
    try:
        for client in clients:
            client.connect()
        for client in clients:
            client.request("GET", "/healthz")
            assert client.getresponse().read() and True
        established = _sockets(server.port, "01")
        per_process = [len(_owned(pid, established)) for pid in processes]
        # then both processes serve some of them (all 32 on one: a chance of 2**-31)
        assert sum(per_process) == 32 and min(per_process) > 0, per_process
    finally:
        for client in clients:
            client.close()


def test_a_web_process_that_dies_is_replaced_and_sigterm_ends_them_all(live_server_factory):
    server = live_server_factory(MAESTRO_WEB_WORKERS="2")
    first, second = _both_serving(server)  # either alone then answers
    os.kill(first, signal.SIGKILL)
    while _alive(first):  # its socket leaves the port's group as the process ends
        time.sleep(0.01)
    # the other process answers meanwhile, and a new one takes the dead one's place
    assert _healthy(server.port)
    deadline = time.monotonic() + 60
    while first in (now := _web_processes(server.proc.pid)) or len(now) < 2:
        assert time.monotonic() < deadline, f"no replacement: {now}"
        time.sleep(0.1)
    assert second in now
    replacement = next(pid for pid in now if pid != second)
    while not _owned(replacement, _sockets(server.port, "0A")):
        assert time.monotonic() < deadline, "the replacement does not listen"
        time.sleep(0.1)
    # it listens only once it serves: every connection from then on is answered
    assert all(_healthy(server.port) for _ in range(20))
    # SIGTERM: every process ends, and the supervisor with status 0
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(35) == 0
    assert not any(_alive(pid) for pid in (second, replacement))
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0
