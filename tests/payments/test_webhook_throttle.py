"""The Relworx webhook's rate limit (THROTTLE_RELWORX_WEBHOOK, per client
address, Redis): a flood is answered 429 in the error envelope before the
signature is checked or anything is written; real traffic is not limited."""

import copy
import time

import httpx
import pytest
from rest_framework.test import APIClient

from payments.models import WebhookEvent
from payments.signature import signature_header
from tests.payments.conftest import WEBHOOK_PATH, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhook(settings, live_server):
    """Our webhook settings pointing at the live test server; returns its URL."""
    url = f"{live_server.url}{WEBHOOK_PATH}"
    settings.RELWORX_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.RELWORX_WEBHOOK_URL = url
    return url


@pytest.fixture
def rate(settings):
    def set_rate(value):
        rest = copy.deepcopy(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"]["relworx_webhook"] = value
        settings.REST_FRAMEWORK = rest

    return set_rate


def _body(n):
    # A webhook for a payment we do not know: if it got through, it would be
    # stored (a WebhookEvent row with result "unknown_payment").
    return {
        "status": "success",
        "customer_reference": f"DTXCUNKNOWN{n:06d}",
        "internal_reference": f"rw-{n}",
        "amount": 5000,
        "currency": "UGX",
    }


def _signed(url, body, key=WEBHOOK_SECRET):
    fields = {k: body[k] for k in ("customer_reference", "internal_reference", "status")}
    return {"Relworx-Signature": signature_header(key=key, url=url, fields=fields)}


def _assert_throttled(response):
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "throttled"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60
    assert error["details"]["retry_after_seconds"] == retry_after


def test_a_flood_is_answered_429_before_the_signature_or_any_write(webhook, rate):
    rate("3/min")
    forged = _signed(webhook, _body(0), key="forger")
    with httpx.Client(timeout=10) as http:
        for n in range(3):
            response = http.post(webhook, json=_body(n), headers=forged)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "invalid_signature"
        # Over the limit a forged call gets 429, not 401: the signature was not looked at.
        _assert_throttled(http.post(webhook, json=_body(9), headers=forged))
        # ...and a correctly signed one is not processed either: nothing stored.
        _assert_throttled(http.post(webhook, json=_body(10), headers=_signed(webhook, _body(10))))
        # Not even a body to parse: a malformed one is 429 too, not 400.
        _assert_throttled(
            http.post(webhook, content=b"{not json", headers={"Content-Type": "application/json"})
        )
    assert WebhookEvent.objects.count() == 0


def test_the_limit_is_per_client_address(webhook, rate):
    rate("2/min")
    client = APIClient()

    def post(n, address):
        body = _body(n)
        return client.post(
            WEBHOOK_PATH,
            body,
            format="json",
            REMOTE_ADDR=address,
            HTTP_RELWORX_SIGNATURE=_signed(webhook, body)["Relworx-Signature"],
        )

    assert [post(n, "10.4.0.1").status_code for n in range(2)] == [200, 200]
    _assert_throttled(post(2, "10.4.0.1"))
    assert post(3, "10.4.0.2").json() == {"received": True, "result": "unknown_payment"}
    assert WebhookEvent.objects.count() == 3


def test_the_default_rate_lets_a_burst_of_real_webhooks_through(webhook):
    """Relworx posts every webhook from a few addresses: a burst of 60 signed
    webhooks in a second from one address (well above the peak we expect) all
    get through with the default rate."""
    started = time.monotonic()
    with httpx.Client(timeout=10) as http:
        codes = [
            http.post(webhook, json=_body(n), headers=_signed(webhook, _body(n))).status_code
            for n in range(60)
        ]
    assert codes == [200] * 60, codes
    assert WebhookEvent.objects.count() == 60
    assert time.monotonic() - started < 60  # all inside one window
