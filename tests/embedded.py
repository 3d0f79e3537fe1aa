"""Start `make run`'s processes as a new user gets them: the embedded default
(no variables: SQLite, filesystem Celery broker, in-memory channel layer, mail
as files), scripts/run_all.py on a free port in a fresh var/ folder."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.notifications.daphne_server import free_port

ROOT = Path(__file__).resolve().parent.parent
# Variables of the test profile that would switch run_all to the production one.
_PROFILE_VARS = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "CELERY_BROKER_URL"}


@dataclass
class EmbeddedRun:
    proc: subprocess.Popen
    base_url: str
    port: int
    var: Path
    log_path: Path


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def wait_until_serving(run: EmbeddedRun, timeout: float = 90) -> None:
    def up():
        assert run.proc.poll() is None, run.log_path.read_text()[-3000:]
        try:
            return httpx.get(f"{run.base_url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, timeout, "the web server")


@contextmanager
def embedded_run(tmp_path: Path, *, demo_data: bool = False, extra_env: dict | None = None):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _PROFILE_VARS and not k.startswith(("DJANGO_", "PYTEST_"))
    }
    port = free_port()
    env.update(
        DTX_VAR_DIR=str(tmp_path / "var"),
        HOST="127.0.0.1",
        PORT=str(port),
        # Any local sandbox run_all starts (Relworx) takes its port from its
        # base URL: a free one, so parallel suites do not collide.
        RELWORX_BASE_URL=f"http://127.0.0.1:{free_port()}/api",
        **(extra_env or {}),
    )
    commands = [["migrate", "--noinput"]] + ([["load_demo_data"]] if demo_data else [])
    for command in commands:
        subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
    log_path = tmp_path / "run_all.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "scripts/run_all.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield EmbeddedRun(proc, f"http://127.0.0.1:{port}", port, tmp_path / "var", log_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C does
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
