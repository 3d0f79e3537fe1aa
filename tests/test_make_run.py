"""`make run`'s processes, as a new user gets them: the embedded default (no
variables: SQLite, filesystem Celery broker, in-memory channel layer, mail as
files), started by scripts/run_all.py on a free port in a fresh var/ folder."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def embedded(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "CELERY_BROKER_URL"}
        and not k.startswith(("DJANGO_", "PYTEST_"))
    }
    port = _free_port()
    env.update(
        DTX_VAR_DIR=str(tmp_path / "var"),
        HOST="127.0.0.1",
        PORT=str(port),
        # Any local sandbox run_all starts (Relworx) takes its port from its
        # base URL: a free one, so parallel suites do not collide.
        RELWORX_BASE_URL=f"http://127.0.0.1:{_free_port()}/api",
    )
    for command in (["migrate", "--noinput"], ["load_demo_data"]):
        subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
    log = (tmp_path / "run_all.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "scripts/run_all.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}", tmp_path / "var"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C does
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_make_run_serves_the_api_and_delivers_mail_through_the_worker(embedded):
    proc, base, var = embedded
    top_level_before = {p.name for p in ROOT.iterdir()}
    with httpx.Client(base_url=base, timeout=10) as http:

        def up():
            assert proc.poll() is None, "run_all.py exited"
            try:
                return http.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        _wait_for(up, 90, "the web server")
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        docs = http.get("/api/docs/")
        assert docs.status_code == 200
        assert "'unsafe-inline'" in docs.headers["Content-Security-Policy"]
        assert (
            http.get(
                "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
            ).status_code
            == 200
        )
        assert http.get("/api/schema/").status_code == 200

        # Registration: the Celery worker (filesystem broker) writes the email
        # as an .eml file under var/mail/.
        email = "runner@example.ug"
        response = http.post(
            "/api/auth/register", json={"email": email, "password": "Run-pass-2026"}
        )
        assert response.status_code == 202, response.text
        eml = _wait_for(lambda: sorted((var / "mail").glob("*.eml")), 60, "the email file")[0]
        message = message_from_bytes(eml.read_bytes(), policy=email_policy.default)
        assert message["To"] == email
        code = re.search(r"\b(\d{6})\b", message.get_body(("plain",)).get_content()).group(1)
        verified = http.post("/api/auth/verify-email", json={"email": email, "code": code})
        assert verified.status_code == 200, verified.text

        # The demo customer printed by load_demo_data signs in.
        token = http.post(
            "/api/auth/token", json={"email": "demo@dtexchange.ug", "password": "demo-pass-2026"}
        )
        assert token.status_code == 200, token.text

    # Ctrl-C stops every process.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
    # Everything the processes wrote is under var/ (the broker's exchange
    # tables once landed in ./control of the checkout).
    assert (var / "celery" / "control").is_dir()
    assert {p.name for p in ROOT.iterdir()} <= top_level_before | {".pytest_cache"}
