"""Test hosts on this machine: network namespaces joined to the root one by
veth pairs on an address range the test creates (10.231.N.0/24, one /30 per
host), removed again however the test ends; and a private PostgreSQL server
listening on the test's own veth address (dtexchange.embedded, trust for the
test range only)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.deploy.stack import free_port

IP = "/usr/sbin/ip"


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
    """A PostgreSQL server of the test's own (the embedded profile's wheel,
    through dtexchange.embedded) on ``host``:free port, trusting ``trusted``."""

    def __init__(self, *, host: str, trusted: str):
        self.host, self.trusted = host, trusted
        self.port = free_port(host)
        self.folder = Path(tempfile.mkdtemp(prefix="dtx-pg-", dir="/tmp"))
        self.server = None

    def url(self, name: str = "dtexchange") -> str:
        return f"postgres://postgres@{self.host}:{self.port}/{name}"

    def start(self, *, database: str = "dtexchange") -> PrivatePostgres:
        from dtexchange.embedded import start_postgres

        self.server = start_postgres(
            self.folder / "data",
            host=self.host,
            port=self.port,
            database=database,
            trust_from=[self.trusted],
            # A throwaway cluster: durability against an OS crash is not tested here.
            options={"fsync": "off", "max_connections": "200"},
        )
        return self

    def restart_immediate(self) -> None:
        """Immediate shutdown (no checkpoint; recovery at start), then start again."""
        self.server.process.send_signal(signal.SIGQUIT)
        self.server.process.wait(timeout=30)
        self.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
