"""Test hosts on this machine: network namespaces joined to the root one by
veth pairs on an address range the test creates (10.231.N.0/24, one /30 per
host), removed again however the test ends; and a private PostgreSQL server
listening on the test's own veth address (Debian's PostgreSQL 15 binaries,
run as the postgres user, trust for the test range only)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.deploy.stack import free_port, wait_for

IP = "/usr/sbin/ip"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _ip(*args: str) -> None:
    subprocess.run([IP, *args], check=True, capture_output=True, timeout=30)  # noqa: S603


def _free_subnet() -> int:
    used = subprocess.run(  # noqa: S603
        [IP, "-o", "-4", "addr"], capture_output=True, text=True, check=True
    ).stdout
    start = os.getpid() % 200
    for offset in range(200):
        n = 20 + (start + offset) % 200
        if f"10.231.{n}." not in used:
            return n
    raise RuntimeError("no free 10.231.N.0/24 range")


class Hosts:
    """``count`` namespaces; host i has address ``addr(i)`` and the root
    namespace ``gateway(i)`` on the other end of its veth pair."""

    def __init__(self, count: int):
        self.subnet = _free_subnet()
        self.tag = f"dtx{os.getpid()}"  # veth names stay within 15 characters
        self.names = [f"{self.tag}{chr(ord('a') + i)}" for i in range(count)]
        self.created: list[str] = []

    def gateway(self, i: int) -> str:
        return f"10.231.{self.subnet}.{4 * i + 1}"

    def addr(self, i: int) -> str:
        return f"10.231.{self.subnet}.{4 * i + 2}"

    @property
    def server_address(self) -> str:
        """The root namespace's address that every host reaches (host 0's gateway)."""
        return self.gateway(0)

    def up(self) -> Hosts:
        _remove_stale()
        try:
            for i, name in enumerate(self.names):
                _ip("netns", "add", name)
                self.created.append(name)
                veth = f"{name}0"
                _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
                _ip("addr", "add", f"{self.gateway(i)}/30", "dev", veth)
                _ip("link", "set", veth, "up")
                _ip("-n", name, "addr", "add", f"{self.addr(i)}/30", "dev", "eth0")
                _ip("-n", name, "link", "set", "eth0", "up")
                _ip("-n", name, "link", "set", "lo", "up")
                # Every other test address (the servers on host 0's gateway) through the root side.
                _ip("-n", name, "route", "add", "default", "via", self.gateway(i))
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        for name in self.created:
            # Deleting the namespace deletes its veth end, and so the pair.
            subprocess.run([IP, "link", "del", f"{name}0"], capture_output=True, check=False)  # noqa: S603
            subprocess.run([IP, "netns", "del", name], capture_output=True, check=False)  # noqa: S603
        self.created = []


def _remove_stale() -> None:
    """Namespaces (and their veth pairs) left by a test run that was killed."""
    listing = subprocess.run(  # noqa: S603
        [IP, "netns", "list"], capture_output=True, text=True, check=False
    ).stdout
    for line in listing.splitlines():
        match = re.match(r"^(dtx(\d+)[a-z])\b", line)
        if match and not Path(f"/proc/{match.group(2)}").exists():
            name = match.group(1)
            for argv in ([IP, "link", "del", f"{name}0"], [IP, "netns", "del", name]):
                subprocess.run(argv, capture_output=True, check=False)  # noqa: S603


class PrivatePostgres:
    """A PostgreSQL 15 server of the test's own on ``host``:free port."""

    def __init__(self, *, host: str, trusted: str):
        self.host, self.trusted = host, trusted
        self.port = free_port(host)
        self.folder = Path(tempfile.mkdtemp(prefix="dtx-pg-", dir="/tmp"))
        self.proc: subprocess.Popen | None = None

    def url(self, name: str = "dtexchange") -> str:
        return f"postgres://postgres@{self.host}:{self.port}/{name}"

    def _as_postgres(self) -> dict:
        return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}

    def start(self, *, database: str = "dtexchange") -> PrivatePostgres:
        data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, user="postgres")
        subprocess.run(  # noqa: S603 - Debian's initdb
            [
                str(PG_BIN / "initdb"),
                *("-D", str(data), "-U", "postgres", "--auth=trust"),
                *("-E", "UTF8", "--no-sync", "--no-instructions"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **self._as_postgres(),
        )
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.trusted} trust\n")
        self._run()
        self._wait_ready()
        subprocess.run(  # noqa: S603
            [
                str(PG_BIN / "createdb"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                database,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return self

    def restart_immediate(self) -> None:
        """Immediate shutdown (no checkpoint; recovery at start), then start again."""
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(timeout=30)
        self._run()
        self._wait_ready()

    def _run(self) -> None:
        data = self.folder / "data"
        self.proc = subprocess.Popen(  # noqa: S603
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={self.host}",
                "-c",
                f"unix_socket_directories={self.folder}",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "postgres.log").open("ab"),
            start_new_session=True,
            **self._as_postgres(),
        )

    def _wait_ready(self) -> None:
        def ready():
            assert self.proc.poll() is None, (self.folder / "postgres.log").read_text()
            return (
                subprocess.run(  # noqa: S603
                    [str(PG_BIN / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"],
                    check=False,
                ).returncode
                == 0
            )

        wait_for(ready, timeout=30, what="PostgreSQL", interval=0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: the test is over
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
