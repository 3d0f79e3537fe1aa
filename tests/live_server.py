"""A real Daphne server (HTTP + WebSocket) in a subprocess, on a free port,
serving the project against the test database (tests.e2e.server_settings).
Used by the browser tests (tests/e2e) and the API contract tests
(tests/contract)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url_for(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


class LiveServer:
    """One Daphne process serving the project against the test database."""

    def __init__(self, *, database_url: str, mail_dir: Path, log_path: Path):
        self.database_url = database_url
        self.mail_dir = mail_dir
        self.log_path = log_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.extra_env: dict[str, str] = {}

    def start(self, timeout: float = 30) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
            "DATABASE_URL": self.database_url,
            "E2E_MAIL_DIR": str(self.mail_dir),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "dtexchange.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_path.read_text()[-4000:]
                raise RuntimeError(f"Daphne exited with {self.proc.returncode}:\n{log}")
            try:
                with urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Daphne did not answer within {timeout}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        """Drop every connection (sockets included) and come back on the same port."""
        self.stop()
        self.start()

    def emails(self) -> list[str]:
        """Every message the server has sent so far, oldest first, as raw text."""
        files = sorted(self.mail_dir.glob("*"), key=lambda p: p.stat().st_mtime_ns)
        return [f.read_text(errors="replace") for f in files]
