"""scripts/with_servers.py (`make test`'s runner) on interrupt: the signal
reaches the command's whole process group, the command gets time to clean up,
nothing it started is left running, and the servers it started are stopped."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.embedded import ROOT, alive, wait_for

# The command under test: starts a grandchild (as pytest starts servers and
# browsers), says where things are, and on SIGINT/SIGTERM/SIGHUP cleans up
# for half a second before it exits.
COMMAND = r"""
import json, os, signal, subprocess, sys, time
out = sys.argv[1]
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
def stop(sig, frame):
    time.sleep(0.5)
    with open(out + ".cleaned", "w") as f:
        f.write(str(sig))
    sys.exit(3)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, stop)
with open(out + ".tmp", "w") as f:
    json.dump({"pid": os.getpid(), "grandchild": grandchild.pid,
               "redis_url": os.environ.get("REDIS_URL", "")}, f)
os.replace(out + ".tmp", out)
while True:
    time.sleep(0.1)
"""
# with_servers with nothing answering on its local Redis address, so it
# starts the embedded one (as on a machine without Redis).
NO_LOCAL_REDIS = (
    "import runpy, sys\n"
    "sys.argv = ['scripts/with_servers.py', *sys.argv[1:]]\n"
    "ns = runpy.run_path('scripts/with_servers.py', run_name='with_servers')\n"
    "ns['main'].__globals__['LOCAL_REDIS_URL'] = 'redis://127.0.0.1:1/0'\n"
    "sys.exit(ns['main'](sys.argv[1:]))\n"
)


def _leave_nothing(proc: subprocess.Popen, info: dict) -> None:
    """Whatever the outcome, this test leaves no process of its own behind."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for pid in alive({info["pid"], info["grandchild"]}):
        os.kill(pid, signal.SIGKILL)


def _start(tmp_path: Path, *, embedded_redis: bool = False):
    out = tmp_path / "command.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    if embedded_redis:
        env.pop("REDIS_URL", None)
        runner = [sys.executable, "-c", NO_LOCAL_REDIS]
    else:
        runner = [sys.executable, "scripts/with_servers.py"]
    proc = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [*runner, sys.executable, "-c", COMMAND, str(out)],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # as make in a terminal: its own group, apart from pytest's
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    info = wait_for(lambda: out.exists() and json.loads(out.read_text()), 60, "the command")
    return proc, info, out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_reaches_the_command_which_cleans_up_and_leaves_nothing(tmp_path, sig):
    proc, info, out = _start(tmp_path)
    try:
        started = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 128 + sig
        # The command had its half second to clean up (not SIGKILLed at once) ...
        assert Path(f"{out}.cleaned").read_text() == str(int(sig))
        # ... and what it started in its group is gone too.
        pids = {info["pid"], info["grandchild"]}
        assert wait_for(lambda: not alive(pids), 10, "the command and its grandchild to exit")
        assert time.monotonic() - started < 15
    finally:
        _leave_nothing(proc, info)


def test_the_command_s_exit_status_is_passed_on(tmp_path):
    result = subprocess.run(
        [sys.executable, "scripts/with_servers.py", sys.executable, "-c", "raise SystemExit(7)"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 7


def test_closing_the_terminal_stops_the_command_and_the_servers_it_started(tmp_path):
    before = set((ROOT / "var").glob("test-servers-*"))
    proc, info, _ = _start(tmp_path, embedded_redis=True)
    try:
        url = info["redis_url"]
        assert url.startswith("redis://") and ":6379" not in url
        assert redis.Redis.from_url(url, socket_timeout=2).ping()
        folders = set((ROOT / "var").glob("test-servers-*")) - before
        assert len(folders) == 1  # the runner's throw-away server folder
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=60) == 128 + signal.SIGHUP
        assert wait_for(lambda: not alive({info["pid"], info["grandchild"]}), 10, "the command")
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        assert not any(folder.exists() for folder in folders)
    finally:
        _leave_nothing(proc, info)
