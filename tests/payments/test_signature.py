import base64
import time

import pytest

from payments.signature import SignatureError, signature_header, signature_verify

KEY = "k3y"
URL = "https://dtx.example/api/payments/relworx/webhook"
FIELDS = {"status": "success", "customer_reference": "DTXC0001", "internal_reference": "ir-1"}


def verify(header, **kw):
    return signature_verify(header=header, key=KEY, url=URL, fields=FIELDS, **kw)


def test_valid_hex_and_base64_signatures_pass():
    now = int(time.time())
    assert verify(signature_header(key=KEY, url=URL, fields=FIELDS, timestamp=now)) == now
    b64 = signature_header(key=KEY, url=URL, fields=FIELDS, timestamp=now, encoding="base64")
    assert verify(b64) == now


def test_the_signed_message_is_url_timestamp_and_sorted_fields():
    # Computed by hand from Relworx's documented recipe, independent of our helper.
    import hashlib
    import hmac

    t = "1700000000"
    message = URL + t + "customer_referenceDTXC0001" + "internal_referenceir-1" + "statussuccess"
    expected = hmac.new(KEY.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert verify(f"t={t},v={expected}", now=1700000000) == 1700000000


def flip(sig: str) -> str:
    return ("0" if sig[0] != "0" else "1") + sig[1:]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: None, "missing_signature"),
        (lambda: "", "missing_signature"),
        (lambda: "garbage", "malformed_header"),
        (lambda: "t=abc,v=00", "malformed_timestamp"),
        (
            lambda: (
                "t="
                + str(int(time.time()))
                + ",v="
                + flip(signature_header(key=KEY, url=URL, fields=FIELDS).split("v=")[1])
            ),
            "bad_signature",
        ),
        (lambda: signature_header(key="wrong", url=URL, fields=FIELDS), "bad_signature"),
        (lambda: signature_header(key=KEY, url=URL + "/", fields=FIELDS), "bad_signature"),
        (
            lambda: signature_header(key=KEY, url=URL, fields={**FIELDS, "status": "failed"}),
            "bad_signature",
        ),
        (
            lambda: signature_header(
                key=KEY, url=URL, fields=FIELDS, timestamp=int(time.time()) - 301
            ),
            "stale_timestamp",
        ),
        (
            lambda: signature_header(
                key=KEY, url=URL, fields=FIELDS, timestamp=int(time.time()) + 301
            ),
            "stale_timestamp",
        ),
        (
            lambda: "t=" + str(int(time.time())) + ",v=" + base64.b64encode(b"short").decode(),
            "bad_signature",
        ),
    ],
)
def test_invalid_signatures_are_refused_with_a_reason(make, reason):
    with pytest.raises(SignatureError) as exc:
        verify(make())
    assert exc.value.reason == reason


def test_a_signature_just_inside_the_window_passes():
    t = int(time.time()) - 299
    assert verify(signature_header(key=KEY, url=URL, fields=FIELDS, timestamp=t)) == t
