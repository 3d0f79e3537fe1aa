import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests.vouchers.conftest import VALIDATE_URL
from tests.vouchers.test_codes import CODE_RE
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def _load() -> list[str]:
    out = io.StringIO()
    call_command("load_demo_data", stdout=out)
    return [
        word for line in out.getvalue().splitlines() for word in line.split() if CODE_RE.match(word)
    ]


@override_settings(DEBUG=True)
def test_demo_vouchers_are_issued_once_and_printed_every_time(api):
    first = _load()
    assert len(first) == 5
    assert Voucher.objects.count() == 5
    assert _load() == first  # idempotent: same codes, nothing new
    assert Voucher.objects.count() == 5
    answer = api.post(VALIDATE_URL, {"voucher_code": first[0], "currency": "UGX"}, format="json")
    assert answer.json()["valid"] is True
    assert answer.json()["amount"] == "50000"
    usd = api.post(VALIDATE_URL, {"voucher_code": first[-1], "currency": "USD"}, format="json")
    assert usd.json()["amount"] == "25.00"


def test_no_demo_vouchers_without_debug():
    # load_demo_data refuses outright with DEBUG off (public demo passwords).
    with pytest.raises(CommandError, match="DEBUG off"):
        _load()
    assert Voucher.objects.count() == 0
