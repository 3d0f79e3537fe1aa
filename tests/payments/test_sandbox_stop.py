"""Stopping the sandbox lets a webhook already on its way finish: a test's
teardown (which empties the database) must not run under a webhook request
the app is still serving. Seen as a deadlock between the teardown's TRUNCATE
and that request under load."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from payments.sandbox import SandboxServer


class _SlowReceiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(1.0)  # the app still working on the webhook
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_stop_waits_for_a_webhook_in_flight_and_cancels_the_rest():
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _SlowReceiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    sandbox = SandboxServer(
        api_key="stop-key",
        account_no="RELSTOP0001",
        webhook_url=f"http://127.0.0.1:{receiver.server_address[1]}/webhook",
        webhook_secret="stop-webhook-secret",
        webhook_delay=0.05,
        webhook_gap=30,  # +256770000004 sends twice: the second is never due here
    ).start()
    try:
        status, body = sandbox.create(
            "collection",
            {
                "account_no": "RELSTOP0001",
                "reference": "stop-reference-01",
                "msisdn": "+256770000004",
                "currency": "UGX",
                "amount": 5000,
            },
        )
        assert status == 200, body
        time.sleep(0.4)  # the first webhook is out, its answer not back
        assert sandbox.deliveries == []
    finally:
        started = time.monotonic()
        sandbox.stop()
        waited = time.monotonic() - started
        receiver.shutdown()
        receiver.server_close()
    assert [d["http_status"] for d in sandbox.deliveries] == [200]  # finished, not cut off
    assert 0.3 < waited < 5  # waited for the one in flight, not for the second
