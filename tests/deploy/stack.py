"""The production stack for a test, from the files in deploy/: Debian's nginx
with the deploy site (TLS with a certificate made here by openssl), and app
nodes whose processes are the Procfile's, run by honcho, in the production
profile. Optionally each node in a network namespace of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from tests.notifications.resend_stub import API_KEY as RESEND_API_KEY

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
NGINX = Path("/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # keep polling until the deadline, then say why
            last, value = exc, None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")


def world_readable_dir(prefix: str) -> Path:
    """A fresh folder an unprivileged nginx can read (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def make_certificate(folder: Path, *, ips: list[str]) -> tuple[Path, Path]:
    """A self-signed certificate for dtx.test and ``ips`` (PEM cert, PEM key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    san = ",".join(["DNS:dtx.test", *(f"IP:{ip}" for ip in ips)])
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            "/usr/bin/openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=dtx.test",
            "-addext",
            f"subjectAltName={san}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    key.chmod(0o644)  # read by the unprivileged nginx; a test key only
    return cert, key


def tls_context(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    return context


def render_site(**values: str) -> str:
    """The deploy site with its ${NAME} placeholders filled, as envsubst does in
    the nginx image (nginx's own $variables are left alone)."""
    template = (DEPLOY / "nginx" / "dtexchange.conf.template").read_text()
    rendered = string.Template(template).safe_substitute(values)
    assert "${" not in rendered, "a placeholder of the site was not given a value"
    return rendered


def servers(addresses: list[str]) -> str:
    return " ".join(f"server {address};" for address in addresses)


def collect_static() -> Path:
    """`collectstatic` into a folder nginx can read (the Dockerfile does it at build)."""
    var = world_readable_dir("dtx-static-")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        # Collecting reads no server: any URLs will do (the embedded profile
        # would otherwise want its own servers running).
        env={
            "PATH": "/usr/bin:/bin",
            "DTX_VAR_DIR": str(var),
            "DEBUG": "true",
            "DATABASE_URL": "postgres://collectstatic@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
        },
        check=True,
        capture_output=True,
        timeout=120,
    )
    return var / "staticfiles"


def envelope(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    return body["error"]


class Nginx:
    """Debian's nginx with the deploy site, unprivileged, on free ports, with
    its own prefix (pid, logs, temp folders)."""

    def __init__(
        self,
        *,
        cert: Path,
        key: Path,
        static_root: Path,
        web: list[str],
        ws: list[str],
        listen: str = "127.0.0.1",
    ):
        self.prefix = world_readable_dir("dtx-nginx-")
        self.listen = listen
        self.https_port = free_port(listen)
        self.http_port = free_port(listen)
        site = render_site(
            NGINX_SERVER_NAME="dtx.test",
            NGINX_HTTP_PORT=f"{listen}:{self.http_port}",
            NGINX_HTTPS_PORT=f"{listen}:{self.https_port}",
            NGINX_SSL_CERTIFICATE=str(cert),
            NGINX_SSL_CERTIFICATE_KEY=str(key),
            NGINX_STATIC_ROOT=str(static_root),
            DTX_WEB_SERVERS=servers(web),
            DTX_WS_SERVERS=servers(ws),
        )
        (self.prefix / "dtexchange.conf").write_text(site)
        temp = self.prefix / "temp"
        temp.mkdir()
        (self.prefix / "nginx.conf").write_text(
            f"""
worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {self.prefix}/dtexchange.conf;
}}
"""
        )
        self.base_url = f"https://{listen}:{self.https_port}"
        self.ws_url = f"wss://{listen}:{self.https_port}/ws/trading"
        self.proc: subprocess.Popen | None = None

    def _unprivileged(self) -> dict:
        if os.geteuid() != 0:
            return {}
        shutil.chown(self.prefix / "temp", user="nobody")
        for name in ("error.log", "access.log"):
            (self.prefix / name).touch()
            shutil.chown(self.prefix / name, user="nobody")
        # The pid file is written in the prefix by the master process.
        shutil.chown(self.prefix, user="nobody")
        return {"user": "nobody", "group": "nogroup", "extra_groups": []}

    def start(self) -> Nginx:
        argv = [str(NGINX), "-p", str(self.prefix), "-e", str(self.prefix / "error.log")]
        argv += ["-c", str(self.prefix / "nginx.conf")]
        as_user = self._unprivileged()
        # The site logs to /dev/stdout (as in a container): a file nginx's user may open.
        log = (self.prefix / "access.log").open("ab")
        check = subprocess.run(  # noqa: S603 - Debian's nginx, our config
            [*argv, "-t", "-q"],
            stdout=log,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
            **as_user,
        )
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(  # noqa: S603
            [*argv, "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_user,
        )
        log.close()

        def listening():
            assert self.proc.poll() is None, self.error_log()
            with socket.create_connection((self.listen, self.https_port), timeout=0.5):
                return True

        wait_for(listening, timeout=15, what="nginx")
        return self

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""

    def access_log(self) -> str:
        return (self.prefix / "access.log").read_text()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # fast shutdown: the test is over
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)


def production_env(
    *,
    database_url: str,
    redis_url: str,
    var_dir: Path,
    site_url: str,
    allowed_hosts: list[str],
    resend_url: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of an app node in the production profile, with the
    staging opt-in for the local Relworx sandbox and simulated prices, and
    email through Resend's API at ``resend_url`` (a local stand-in)."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "CHANNEL_PREFIX", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="dtexchange.settings",
        DTX_PROFILE="production",
        DTX_ALLOW_SANDBOX_SERVICES="1",
        DTX_VAR_DIR=str(var_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="deploy-test-" + "s" * 40,
        # Each secret its own (production refuses one that is SECRET_KEY).
        FIELD_ENCRYPTION_KEY="deploy-test-field-" + "f" * 40,
        VOUCHER_HASH_KEY="deploy-test-voucher-" + "v" * 40,
        RESEND_FROM_EMAIL="DT Exchange <no-reply@deploy.test>",
        RESEND_API_KEY=RESEND_API_KEY,
        RESEND_API_URL=resend_url,
        ALLOWED_HOSTS=",".join(allowed_hosts),
        SITE_URL=site_url,
        CSRF_TRUSTED_ORIGINS=site_url,
        NUM_PROXIES="1",
        LOG_LEVEL="WARNING",
        # The tests' own pool and connection sizes: two cores, many servers.
        WEB_CONCURRENCY="2",
        WORKER_CONCURRENCY="1",
    )
    env.update(extra or {})
    return env


@dataclass
class Node:
    """One app node: the Procfile's processes under honcho (in ``netns`` if
    given), gunicorn and Daphne on ``host`` at free ports."""

    name: str
    env: dict[str, str]
    host: str = "127.0.0.1"
    netns: str | None = None
    processes: tuple[str, ...] = ("web", "ws", "worker")
    web_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def web(self) -> str:
        return f"{self.host}:{self.web_port}"

    @property
    def ws(self) -> str:
        return f"{self.host}:{self.ws_port}"

    def start(self, log_dir: Path) -> Node:
        env = {
            **self.env,
            "WEB_BIND": self.web,
            "WS_HOST": self.host,
            "WS_PORT": str(self.ws_port),
            "NODE_NAME": self.name,
        }
        argv = [str(BIN / "honcho"), "-f", str(DEPLOY / "Procfile"), "-d", str(ROOT)]
        argv += ["--no-colour", "start", *self.processes]
        if self.netns:
            argv = ["/usr/sbin/ip", "netns", "exec", self.netns, *argv]
        self.log_path = log_dir / f"node-{self.name}.log"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own tools
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_serving(self, timeout: float = 60) -> None:
        def up():
            assert self.proc.poll() is None, self.log()
            for address in (self.web, self.ws):
                response = httpx.get(f"http://{address}/healthz", timeout=2)
                if response.status_code != 200:
                    return False
            return True

        wait_for(up, timeout=timeout, what=f"node {self.name}", interval=0.2)

    def log(self) -> str:
        return self.log_path.read_text()[-6000:] if self.log_path else ""

    def pids(self) -> list[int]:
        """Every process of the node (honcho puts each process in a session
        of its own, so a process group does not hold them all)."""
        if self.proc is None:
            return []
        if self.netns:
            out = subprocess.run(  # noqa: S603
                ["/usr/sbin/ip", "netns", "pids", self.netns],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            return [int(pid) for pid in out.split()]
        return [self.proc.pid, *descendants(self.proc.pid)]

    def stop(self, *, hard: bool = False) -> None:
        """Stop every process of the node (``hard``: SIGKILL to all at once,
        as when the machine is lost)."""
        if self.proc is None:
            return
        pids = self.pids()
        if self.proc.poll() is None and not hard:
            self.proc.terminate()  # honcho stops its processes and waits for them
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()


def descendants(pid: int) -> list[int]:
    """The processes under ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class PrivateRedis:
    """A Redis-compatible server (Valkey, the embedded profile's wheel) of the
    test's own on ``host``:free port, through dtexchange.embedded."""

    def __init__(self, folder: Path, *, host: str = "127.0.0.1", persist: bool = False):
        self.host, self.port, self.folder, self.persist = host, free_port(host), folder, persist
        self.server = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> PrivateRedis:
        from dtexchange.embedded import start_redis

        self.server = start_redis(self.folder, host=self.host, port=self.port, persist=self.persist)
        return self

    def restart_killed(self) -> None:
        """kill -9 and start again on the same port (with only what it had saved)."""
        self.server.process.kill()
        self.server.process.wait()
        self.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


async def authenticated_socket(url: str, access: str, origin: str, **kwargs):
    ws = await websockets.connect(url, origin=origin, **kwargs)
    await ws.send(json.dumps({"type": "authenticate", "token": access}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # public price_update messages may come first
        message = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if message["type"] == "authenticated":
            return ws
    raise AssertionError("not authenticated")


async def next_trade_update(ws, reference: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if message["type"] == "trade_update" and message["data"]["reference"] == reference:
            return message
    raise AssertionError(f"no trade_update for {reference}")
