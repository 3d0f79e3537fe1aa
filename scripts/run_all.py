"""`make run`: the one process that owns the embedded default's servers.

1. Checks that the web and sandbox ports are free.
2. Takes var/run.lock: one `make run` per var/ folder.
3. Starts a private PostgreSQL and a private Valkey (Redis-compatible) from
   their wheels (dtexchange/embedded.py), data under var/, unless
   DATABASE_URL / REDIS_URL name servers of your own, and writes
   var/servers.json saying where they listen.
4. Migrates and loads the demo data.
5. Starts Daphne, a Celery worker and beat, and the local Relworx sandbox,
   which find the servers through var/servers.json, as `manage.py` in
   another terminal does.
6. On Ctrl-C, SIGTERM, SIGHUP (the terminal was closed), or when one of
   them dies: stops the app processes, then the servers. Every child also
   gets SIGTERM from the kernel if this process is killed outright, so
   nothing is left running.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dtexchange import embedded  # noqa: E402 - after the path is set
from dtexchange.server_options import daphne_options  # noqa: E402

PY = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
VAR_DIR = Path(os.environ.get("DTX_VAR_DIR", str(ROOT / "var")))


def _sandbox_port() -> int:
    base = os.environ.get("RELWORX_BASE_URL")
    if base:
        return urlsplit(base).port or 80
    return int(os.environ.get("RELWORX_SANDBOX_PORT", "8010"))


def app_processes(sandbox_port: int) -> dict[str, list[str]]:
    """name -> argv of the processes that only connect to the servers."""
    return {
        "web": [
            PY,
            "-m",
            "daphne",
            "-b",
            HOST,
            "-p",
            str(PORT),
            *daphne_options(),
            "dtexchange.asgi:application",
        ],
        "worker": [
            PY,
            "-m",
            "celery",
            "-A",
            "dtexchange",
            "worker",
            "-l",
            "warning",
            "--concurrency",
            "2",
        ],
        "beat": [PY, "-m", "celery", "-A", "dtexchange", "beat", "-l", "warning"],
        # The local Relworx stand-in on settings.RELWORX_BASE_URL's port; it
        # signs webhooks for, and posts them to, the web process above.
        "relworx-sandbox": [
            PY,
            "-m",
            "payments.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(sandbox_port),
        ],
    }


def _refuse_taken_port(host: str, port: int, what: str, fix: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise embedded.EmbeddedError(
                f"{what} cannot listen on {host}:{port}: {exc.strerror} (another make run, "
                f"or another program, has it). Stop that, or {fix}."
            ) from None


def _terminate(children: dict[str, subprocess.Popen]) -> None:
    for proc in children.values():
        if proc.poll() is None:
            # The main process only: Celery's worker then stops its own pool
            # (a signal to the whole group kills the pool under it).
            proc.terminate()
    deadline = time.monotonic() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _raise_interrupt(*_):
    raise KeyboardInterrupt


def _say(*args, **kwargs) -> None:
    """print, except that a closed terminal (SIGHUP: writes fail with EIO)
    never cuts the stop short."""
    with contextlib.suppress(OSError):
        print(*args, flush=True, **kwargs)


# Ctrl-C, `kill`, and the terminal closing (SIGHUP) all stop everything.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main() -> int:
    # Also SIGINT: a shell starting `make run` in the background ignores it,
    # and Python then keeps it ignored.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_interrupt)
    sandbox_port = _sandbox_port()
    servers: list[embedded.EmbeddedServer] = []
    children: dict[str, subprocess.Popen] = {}
    lock = embedded.RunLock(VAR_DIR)
    exit_code = 0
    try:
        _refuse_taken_port(
            HOST, PORT, "The web server", f"choose another port: make run PORT={PORT + 1}"
        )
        _refuse_taken_port(
            "127.0.0.1",
            sandbox_port,
            "The Relworx sandbox",
            "set RELWORX_BASE_URL=http://127.0.0.1:PORT/api with a free PORT",
        )
        lock.acquire()
        # The metrics' per-process files start empty with the processes
        # (dtexchange/metrics.py); the settings make the folder again.
        shutil.rmtree(VAR_DIR / "metrics", ignore_errors=True)
        urls = {}
        if os.environ.get("DATABASE_URL"):
            _say("PostgreSQL: DATABASE_URL (your own server)")
        else:
            started = time.monotonic()
            servers.append(embedded.start_postgres(VAR_DIR / "postgres"))
            urls["database_url"] = servers[-1].url
            _say(
                f"PostgreSQL: {servers[-1].url} (embedded, data in {VAR_DIR / 'postgres'}, "
                f"up in {time.monotonic() - started:.1f} s)"
            )
        if os.environ.get("REDIS_URL"):
            _say("Redis: REDIS_URL (your own server)")
        else:
            servers.append(embedded.start_redis(VAR_DIR / "redis"))
            urls["redis_url"] = servers[-1].url
            _say(f"Redis: {servers[-1].url} (embedded Valkey, data in {VAR_DIR / 'redis'})")
        embedded.write_state(VAR_DIR, **urls)

        env = dict(os.environ)
        env.setdefault("SITE_URL", f"http://{HOST}:{PORT}")
        env.setdefault("RELWORX_BASE_URL", f"http://127.0.0.1:{sandbox_port}/api")
        for command in (["migrate", "--noinput"], ["load_demo_data"]):
            subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True)  # noqa: S603

        for name, argv in app_processes(sandbox_port).items():
            # Each child in its own session: Ctrl-C reaches it only through us,
            # after which the servers stop last.
            children[name] = subprocess.Popen(  # noqa: S603 - our argv; async-safe preexec
                argv,
                cwd=ROOT,
                env=env,
                start_new_session=True,
                preexec_fn=embedded.die_with_parent(signal.SIGTERM),
            )
        _say(
            f"DT Exchange is up on http://{HOST}:{PORT}  (API docs: /api/docs/, admin: /admin/)\n"
            "Press Ctrl-C to stop."
        )
        while True:
            for name, proc in children.items():
                if proc.poll() is not None:
                    _say(f"{name} exited with {proc.returncode}; stopping the rest.")
                    exit_code = proc.returncode or 1
                    raise KeyboardInterrupt
            for server in servers:
                if not server.alive():
                    _say(
                        f"The embedded {server.name} stopped (log: {server.log_path}); "
                        "stopping the rest."
                    )
                    exit_code = 1
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except embedded.EmbeddedError as exc:
        _say(f"make run: {exc}", file=sys.stderr)
        exit_code = 2
    except subprocess.CalledProcessError as exc:
        _say(f"make run: {' '.join(exc.cmd[1:])} failed (exit {exc.returncode})", file=sys.stderr)
        exit_code = 1
    finally:
        for sig in STOP_SIGNALS:  # a second Ctrl-C must not cut the stop short
            signal.signal(sig, signal.SIG_IGN)
        _terminate(children)
        for server in reversed(servers):
            server.stop()
        if servers:
            embedded.clear_state(VAR_DIR)
        lock.release()
        _say("Stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
