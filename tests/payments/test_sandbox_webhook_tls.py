"""The sandbox's webhooks to an HTTPS address whose certificate only the test
trusts (nginx in front of the app, as in production): they must be delivered
whatever the process did with urllib before. urllib's shared opener fixes its
TLS trust the first time anything in the process calls ``urlopen``; the
two-node test's webhooks were refused (certificate unknown) in full runs,
where earlier tests had called it, and the payment settled only through the
poller a minute later."""

import json
import shutil
import ssl
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments.sandbox import SandboxServer
from tests.deploy.stack import make_certificate, world_readable_dir


class _Receiver(BaseHTTPRequestHandler):
    received: list

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, json.loads(body), self.headers["Relworx-Signature"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(httpd):
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return httpd


@pytest.fixture
def https_receiver():
    """An HTTPS server with a self-signed certificate; yields (url, cert, received)."""
    folder = world_readable_dir("dtx-sandbox-tls-")
    cert, key = make_certificate(folder, ips=["127.0.0.1"])
    received: list = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    _serve(httpd)
    try:
        url = f"https://127.0.0.1:{httpd.server_address[1]}/api/payments/relworx/webhook"
        yield url, cert, received
    finally:
        httpd.shutdown()
        httpd.server_close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def urllib_used_before():
    """What an earlier test (or any library) does: one plain ``urlopen``, which
    builds urllib's shared opener with the default trust."""
    plain = _serve(ThreadingHTTPServer(("127.0.0.1", 0), _Receiver))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{plain.server_address[1]}/") as answer:
            assert answer.status == 204
    finally:
        plain.shutdown()
        plain.server_close()


def _sandbox(url: str, **kwargs) -> SandboxServer:
    return SandboxServer(
        api_key="tls-key",
        account_no="RELTLS0001",
        webhook_url=url,
        webhook_secret="tls-webhook-secret",
        webhook_delay=3600,  # no scheduled webhook: the test sends it
        **kwargs,
    ).start()


def _request(sandbox: SandboxServer) -> str:
    status, body = sandbox.create(
        "collection",
        {
            "account_no": "RELTLS0001",
            "reference": "tls-reference-0001",
            "msisdn": "+256771234567",
            "currency": "UGX",
            "amount": 5000,
        },
    )
    assert status == 200, body
    return body["internal_reference"]


def test_webhooks_reach_an_https_url_with_the_given_ca_after_urllib_was_used(
    urllib_used_before, https_receiver
):
    url, cert, received = https_receiver
    sandbox = _sandbox(url, webhook_cafile=str(cert))
    try:
        internal = _request(sandbox)
        assert sandbox.send_webhook(internal) == 200
    finally:
        sandbox.stop()
    assert len(received) == 1
    path, event, signature = received[0]
    assert path == "/api/payments/relworx/webhook"
    assert event["internal_reference"] == internal and signature.startswith("t=")
    assert sandbox.deliveries == [
        {"internal_reference": internal, "status": "pending", "http_status": 200, "error": ""}
    ]


def test_without_the_ca_the_certificate_is_refused_and_the_reason_recorded(https_receiver):
    url, _cert, received = https_receiver
    sandbox = _sandbox(url)
    try:
        assert sandbox.send_webhook(_request(sandbox)) is None
    finally:
        sandbox.stop()
    assert received == []
    [delivery] = sandbox.deliveries
    assert delivery["http_status"] is None
    assert "CERTIFICATE_VERIFY_FAILED" in delivery["error"]
