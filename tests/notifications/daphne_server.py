"""Start the project's ASGI app under a real Daphne process for a test."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from dtexchange.server_options import daphne_options

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """The pytest-django test database, so the server sees the test's rows."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def daphne_server(
    *,
    extra_env: dict | None = None,
    settings_module: str = "tests.settings",
    log_path: Path | None = None,
):
    """``log_path``: keep the server's output (its logs) in that file."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": test_database_url(),
        **(extra_env or {}),
    }
    log = log_path.open("ab") if log_path else None
    for _ in range(3):  # the port could be taken between probe and bind
        port = free_port()
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                # The limits `make run` and production start Daphne with.
                *daphne_options(env),
                "dtexchange.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log if log_path else subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        if proc.poll() is None:
            break
    else:
        output = log_path.read_text() if log_path else proc.stderr.read().decode()
        raise RuntimeError(f"daphne did not start: {output[-2000:]}")
    try:
        yield {"port": port, "pid": proc.pid, "url": f"ws://127.0.0.1:{port}/ws/trading"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        if log:
            log.close()
