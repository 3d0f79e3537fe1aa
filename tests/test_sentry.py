"""Errors go to Sentry when SENTRY_DSN is set (a real local HTTP server
stands in for Sentry's ingest), and nowhere when it is not. Each case runs
in a child process: sentry-sdk is set up once per process, by settings."""

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import django
django.setup()
import sentry_sdk
from django.core.signals import got_request_exception
client = sentry_sdk.get_client()
print("ACTIVE", client.is_active())
print("INTEGRATIONS", sorted(client.integrations))
try:
    raise RuntimeError("boom from a view")
except RuntimeError:
    # What Django's handler does when a view raises.
    got_request_exception.send(sender=None, request=None)
sentry_sdk.flush(timeout=10)
"""


class _Ingest(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def _run(dsn: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "SENTRY_DSN": dsn}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_errors_go_to_sentry_when_a_dsn_is_set():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingest)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = _run(f"http://publickey@127.0.0.1:{server.server_port}/42")
    finally:
        server.shutdown()
        server.server_close()
    assert "ACTIVE True" in out
    for name in ("celery", "django", "redis"):
        assert f"'{name}'" in out
    envelopes = [body for path, body in server.received if path == "/api/42/envelope/"]
    assert envelopes, server.received
    items = [json.loads(line) for e in envelopes for line in e.splitlines() if line.strip()]
    errors = [i for i in items if "exception" in i]
    (error,) = errors
    assert error["exception"]["values"][-1]["value"] == "boom from a view"
    assert error["exception"]["values"][-1]["type"] == "RuntimeError"


def test_nothing_is_sent_without_a_dsn():
    assert "ACTIVE False" in _run("")
