"""The Relworx client against the sandbox (a real HTTP server), and against
tiny misbehaving servers for timeouts and 5xx."""

import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments.relworx import (
    CHECK_STATUS,
    REQUEST_PAYMENT,
    RelworxClient,
    RelworxRefused,
    RelworxRejected,
    RelworxUnavailable,
)
from tests.payments.conftest import ACCOUNT_NO, API_KEY, wait_for


def client_for(base_url, *, api_key=API_KEY, timeout=3.0, max_attempts=3):
    return RelworxClient(
        base_url=base_url,
        api_key=api_key,
        account_no=ACCOUNT_NO,
        timeout=timeout,
        max_attempts=max_attempts,
        backoff=0.01,
    )


def pay(client, msisdn="+256770000001", reference="DTXCTEST00000001", amount="5000"):
    return client.request_payment(
        reference=reference,
        msisdn=msisdn,
        amount=Decimal(amount),
        currency="UGX",
        description="test",
    )


def test_request_payment_then_status_moves_from_pending_to_success(make_sandbox):
    # A delay long enough that a loaded machine still asks within it.
    sandbox = make_sandbox(delay=1.5)
    with client_for(sandbox.base_url) as client:
        accepted = pay(client)
        assert accepted.success and len(accepted.internal_reference) >= 8
        first = client.check_request_status(internal_reference=accepted.internal_reference)
        assert first.status == "pending"
        time.sleep(1.6)
        final = client.check_request_status(internal_reference=accepted.internal_reference)
    assert final.status == "success"
    assert final.amount == Decimal("5000") and final.currency == "UGX"
    assert final.customer_reference == "DTXCTEST00000001"


def test_send_payment_failure_is_reported_by_status(make_sandbox):
    sandbox = make_sandbox(delay=0.1)
    with client_for(sandbox.base_url) as client:
        accepted = client.send_payment(
            reference="DTXPTEST00000001",
            msisdn="+256770000006",
            amount=Decimal("20000"),
            currency="UGX",
            description="payout",
        )
        time.sleep(0.2)
        status = client.check_request_status(internal_reference=accepted.internal_reference)
    assert status.status == "failed"
    assert "rejected" in status.message.lower()


def test_a_wrong_api_key_is_an_auth_error_and_not_retried(make_sandbox):
    sandbox = make_sandbox()
    with client_for(sandbox.base_url, api_key="wrong") as client, pytest.raises(RelworxRefused):
        pay(client)
    assert sandbox.hits == [("POST", "/api" + REQUEST_PAYMENT, 401)]


def test_a_4xx_is_never_retried(make_sandbox):
    sandbox = make_sandbox()
    with client_for(sandbox.base_url) as client, pytest.raises(RelworxRejected) as exc:
        pay(client, msisdn="+256770000008")
    assert exc.value.status_code == 400
    assert "not registered" in exc.value.message
    assert len(sandbox.hits) == 1


def test_a_503_is_retried_with_the_same_reference_and_deduplicated(make_sandbox):
    sandbox = make_sandbox()
    with client_for(sandbox.base_url) as client:
        accepted = pay(client, msisdn="+256770000007")
    assert [h[2] for h in sandbox.hits] == [503, 200]
    # One request at "Relworx", and the retry was told about that same one.
    assert [r["internal_reference"] for r in sandbox.listing()] == [accepted.internal_reference]


def test_reusing_a_reference_for_a_different_payment_is_refused(make_sandbox):
    sandbox = make_sandbox()
    with client_for(sandbox.base_url) as client:
        pay(client, amount="5000")
        assert pay(client, amount="5000").internal_reference  # same payload: same answer
        with pytest.raises(RelworxRejected) as exc:
            pay(client, amount="6000")
    assert exc.value.status_code == 409
    assert len(sandbox.listing()) == 1


def test_status_of_an_unknown_request_is_a_404_rejection(make_sandbox):
    sandbox = make_sandbox()
    with client_for(sandbox.base_url) as client, pytest.raises(RelworxRejected) as exc:
        client.check_request_status(internal_reference="nope")
    assert exc.value.status_code == 404
    assert sandbox.hits == [("GET", "/api" + CHECK_STATUS, 404)]


class _Misbehaving:
    """A local HTTP server that answers every request badly, counting them."""

    def __init__(self, *, status=500, sleep=0.0):
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                outer.count += 1
                time.sleep(sleep)
                body = b'{"success": false, "message": "boom"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize(("status", "sleep"), [(500, 0.0), (502, 0.0), (200, 0.5)])
def test_5xx_and_timeouts_are_retried_a_bounded_number_of_times(status, sleep):
    server = _Misbehaving(status=status, sleep=sleep)
    try:
        with client_for(server.base_url, timeout=0.2) as client, pytest.raises(RelworxUnavailable):
            pay(client)
        # The server counts on arrival; on a loaded machine the last arrival
        # may be noticed a moment after the client gave up.
        wait_for(lambda: server.count >= 3, timeout=3)
        time.sleep(0.2)
        assert server.count == 3
    finally:
        server.stop()


def test_an_unreachable_relworx_is_unavailable():
    with (
        client_for("http://127.0.0.1:9/api", max_attempts=2) as client,
        pytest.raises(RelworxUnavailable),
    ):
        pay(client)


def test_amounts_must_be_whole_ugx_decimals(make_sandbox):
    sandbox = make_sandbox()
    with client_for(sandbox.base_url) as client:
        with pytest.raises(ValueError):
            pay(client, amount="500.5")
        with pytest.raises(ValueError):
            client.request_payment(
                reference="short",
                msisdn="+256770000001",
                amount=Decimal(500),
                currency="UGX",
                description="",
            )
    assert sandbox.hits == []
