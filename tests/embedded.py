"""Start `make run` as a new user gets it: scripts/run_all.py with no
DATABASE_URL / REDIS_URL (so it starts its own PostgreSQL and Valkey from the
wheels), in a fresh var/ folder, on free ports."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.notifications.daphne_server import free_port

ROOT = Path(__file__).resolve().parent.parent
# Variables of the test run that would point run_all at the test servers.
_SERVER_VARS = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "CELERY_BROKER_URL"}


@dataclass
class EmbeddedRun:
    proc: subprocess.Popen
    base_url: str
    port: int
    var: Path
    log_path: Path
    env: dict

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`manage.py ARGS` in "another terminal": no variable but the var/ folder."""
        return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def wait_until_serving(run: EmbeddedRun, timeout: float = 240) -> None:
    def up():
        assert run.proc.poll() is None, run.log()[-3000:]
        try:
            return httpx.get(f"{run.base_url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, timeout, "the web server")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (through /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def embedded_env(var: Path, **extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _SERVER_VARS and not k.startswith(("DJANGO_", "PYTEST_"))
    }
    env.update(DTX_VAR_DIR=str(var), **extra)
    return env


@contextmanager
def var_folder():
    """A fresh var/ folder inside the checkout's var/, as `make run` has (its
    parents are the checkout's; pytest's own tmp folder is private to root,
    which the servers' own user could not pass through)."""
    (ROOT / "var").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="test-run-", dir=ROOT / "var"))
    try:
        yield folder / "var"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_run_all(var: Path, log_path: Path, **extra) -> EmbeddedRun:
    port = free_port()
    env = embedded_env(
        var,
        HOST="127.0.0.1",
        PORT=str(port),
        # The Relworx sandbox on a free port too, so parallel suites do not collide.
        RELWORX_BASE_URL=f"http://127.0.0.1:{free_port()}/api",
        SITE_URL=f"http://127.0.0.1:{port}",
        **extra,
    )
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "scripts/run_all.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return EmbeddedRun(proc, f"http://127.0.0.1:{port}", port, var, log_path, env)


def stop(run: EmbeddedRun) -> None:
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            run.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()


@contextmanager
def embedded_run(**extra):
    with var_folder() as var:
        run = start_run_all(var, var.parent / "run_all.log", **extra)
        try:
            yield run
        finally:
            stop(run)
