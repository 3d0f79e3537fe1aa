"""`make run`'s processes, as a new user gets them: the embedded default (no
variables: SQLite, filesystem Celery broker, in-memory channel layer, mail as
files), started by scripts/run_all.py on a free port in a fresh var/ folder."""

import re
import signal
from email import message_from_bytes
from email import policy as email_policy

import httpx
import pytest

from tests.embedded import ROOT, embedded_run, wait_for


@pytest.fixture
def embedded(tmp_path):
    with embedded_run(tmp_path, demo_data=True) as run:
        yield run.proc, run.base_url, run.var


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

        wait_for(up, 90, "the web server")
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
        eml = wait_for(lambda: sorted((var / "mail").glob("*.eml")), 60, "the email file")[0]
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
