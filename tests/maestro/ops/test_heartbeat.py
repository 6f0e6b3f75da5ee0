"""maestro.ops.heartbeat: the exec liveness probe of processes without an HTTP port."""

import os
import subprocess
import sys
import time

from maestro.ops import heartbeat


def test_probe_passes_only_while_the_file_is_fresh(tmp_path, capsys):
    # given: no heartbeat yet
    path = tmp_path / "scheduler.alive"
    # then: the probe fails, naming the file
    assert heartbeat.main([str(path), "60"]) == 1
    assert capsys.readouterr().err == f"no heartbeat at {path}\n"
    # when: the process beats
    heartbeat.beat(path)
    # then: the probe passes
    assert heartbeat.main([str(path), "60"]) == 0
    # when: the last beat is 120 s old (a stuck loop)
    old = time.time() - 120
    os.utime(path, (old, old))
    # then: the probe fails, saying how old it is
    assert heartbeat.main([str(path), "60"]) == 1
    assert capsys.readouterr().err == "heartbeat 120s old (more than 60s)\n"
    # when: it beats again, it passes again
    heartbeat.beat(path)
    assert heartbeat.main([str(path), "60"]) == 0


def test_probe_command_as_the_chart_runs_it(tmp_path):
    # given: the command line of the scheduler's liveness probe (deploy/helm/maestro)
    path = tmp_path / "scheduler.alive"
    cmd = [sys.executable, "-m", "maestro.ops.heartbeat", str(path), "60"]
    # then: exit 1 without a beat, 0 after one, 2 on a wrong command line
    assert subprocess.run(cmd, capture_output=True).returncode == 1
    heartbeat.beat(path)
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert subprocess.run(cmd[:-1], capture_output=True).returncode == 2
