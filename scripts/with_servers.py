"""`make test`'s servers: run a command with DATABASE_URL and REDIS_URL set.

* DATABASE_URL / REDIS_URL already set: used as they are.
* Else PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on
  127.0.0.1:6379 when they answer (CI, our machines).
* Else, for what does not answer, the same private servers `make run` uses
  (dtexchange/embedded.py), in a throw-away folder under var/ for the
  command's lifetime, stopped afterwards (also on Ctrl-C).

The command runs in a process group of its own. Ctrl-C, SIGTERM or SIGHUP
(the terminal closed) is passed on to that whole group, which has
GRACE_SECONDS to finish (pytest stops its servers and browsers); then
whatever is left of the group is killed, and the servers are stopped. If
this process is killed outright, the kernel sends the command SIGTERM.

Usage: scripts/with_servers.py COMMAND [ARG...]
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The command gets the caller's environment, not what importing the project adds to this
# process (the Celery app sets DJANGO_SETTINGS_MODULE, which would beat pytest's ini setting
# and run the suite on the runtime settings instead of tests.settings).
CALLER_ENV = dict(os.environ)
sys.path.insert(0, str(ROOT))

from dtexchange import embedded  # noqa: E402 - after the path is set

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 30.0
LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/dtexchange"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def _postgres_answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError:
        return False
    return True


def _raise_interrupt(*_):
    raise KeyboardInterrupt


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_command(argv: list[str], env: dict) -> int:
    """Run ``argv`` in its own process group until it exits; a stop signal
    is forwarded to the group, which is killed GRACE_SECONDS later if still
    running, and whatever the command left in its group is killed at the
    end. Returns its exit status (128 + the signal when one stopped it)."""
    child = subprocess.Popen(  # noqa: S603 - the caller's command; async-safe preexec
        argv,
        env=env,
        process_group=0,
        preexec_fn=embedded.die_with_parent(signal.SIGTERM),
    )
    stopped_by: list[int] = []
    deadline = float("inf")

    def forward(sig, _frame):
        nonlocal deadline
        if not stopped_by:
            stopped_by.append(sig)
            deadline = time.monotonic() + GRACE_SECONDS
        _kill_group(child.pid, sig)

    for sig in STOP_SIGNALS:
        signal.signal(sig, forward)
    try:
        while True:
            try:
                child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    _kill_group(child.pid, signal.SIGKILL)
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if child.poll() is None:
            _kill_group(child.pid, signal.SIGKILL)
            child.wait()
        _kill_group(child.pid, signal.SIGKILL)  # what the command left behind in its group
    if stopped_by:
        return 128 + stopped_by[0]
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    env = dict(CALLER_ENV)
    servers: list[embedded.EmbeddedServer] = []
    folder: Path | None = None
    for sig in STOP_SIGNALS:  # while the servers start
        signal.signal(sig, _raise_interrupt)
    try:
        for name, local, answers in (
            ("DATABASE_URL", LOCAL_DATABASE_URL, _postgres_answers),
            ("REDIS_URL", LOCAL_REDIS_URL, _redis_answers),
        ):
            if env.get(name):
                continue
            if answers(local):
                env[name] = local
                continue
            if folder is None:
                (ROOT / "var").mkdir(exist_ok=True)
                folder = Path(tempfile.mkdtemp(prefix="test-servers-", dir=ROOT / "var"))
            if name == "DATABASE_URL":
                # A throw-away cluster: durability buys nothing here.
                server = embedded.start_postgres(
                    folder / "postgres",
                    options={
                        "fsync": "off",
                        "synchronous_commit": "off",
                        "full_page_writes": "off",
                    },
                )
            else:
                server = embedded.start_redis(folder / "redis", persist=False)
            servers.append(server)
            env[name] = server.url
            print(f"{name}: {server.url} (embedded, nothing answered on localhost)", flush=True)
        return run_command(argv, env)
    except KeyboardInterrupt:
        return 130
    except embedded.EmbeddedError as exc:
        print(f"make test: {exc}", file=sys.stderr)
        return 2
    finally:
        for sig in STOP_SIGNALS:  # a second Ctrl-C must not cut the stop short
            signal.signal(sig, signal.SIG_IGN)
        for server in reversed(servers):
            server.stop()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
