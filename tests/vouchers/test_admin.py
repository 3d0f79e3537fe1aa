import base64
import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.factories import UserFactory, VoucherFactory
from tests.staff import staff_sign_in
from tests.vouchers.conftest import assert_code_stored_nowhere
from vouchers import codes
from vouchers.models import Voucher, VoucherBatch

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/vouchers/voucherbatch/add/"
LIST_URL = "/admin/vouchers/voucher/"
PLAIN_RE = re.compile(r"DTX(?:-[23456789A-HJKMNP-Z]{4}){5}")


@pytest.fixture
def admin_client():
    admin = UserFactory(email="root@example.test", is_staff=True, is_superuser=True)
    client = Client()
    staff_sign_in(client, admin)
    client.admin = admin
    return client


def test_issue_batch_shows_codes_once_with_csv(admin_client):
    assert admin_client.get(ADD_URL).status_code == 200
    response = admin_client.post(
        ADD_URL,
        {"count": "3", "amount": "15000", "currency": "UGX", "expires_in_days": "60", "note": "x"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = unescape(response.content.decode())
    shown = sorted(set(PLAIN_RE.findall(html)))
    assert len(shown) == 3
    assert set(Voucher.objects.values_list("code_hash", flat=True)) == {
        codes.code_hash(codes.normalise(c)) for c in shown
    }
    batch = VoucherBatch.objects.get()
    assert batch.created_by == admin_client.admin
    (b64,) = re.findall(r'href="data:text/csv;base64,([A-Za-z0-9+/=]+)"', html)
    csv_text = base64.b64decode(b64).decode()
    assert sorted(PLAIN_RE.findall(csv_text)) == shown
    assert f'download="vouchers-batch-{batch.pk}.csv"' in html
    for code in shown:
        assert_code_stored_nowhere(code)

    # Nowhere else in the admin can the codes be seen again.
    for url in (
        f"/admin/vouchers/voucherbatch/{batch.pk}/change/",
        "/admin/vouchers/voucherbatch/",
        LIST_URL,
        f"/admin/vouchers/voucher/{Voucher.objects.first().pk}/change/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        assert not PLAIN_RE.findall(unescape(page.content.decode())), url
        assert Voucher.objects.first().code_hash not in page.content.decode()


def test_issue_form_errors_write_nothing(admin_client):
    response = admin_client.post(
        ADD_URL, {"count": "2", "amount": "5000.5", "currency": "UGX", "expires_in_days": "60"}
    )
    assert response.status_code == 200
    assert "Too many decimal places" in response.content.decode()
    assert VoucherBatch.objects.count() == 0


def test_staff_without_permission_cannot_issue_or_void():
    staff = UserFactory(email="reviewer@example.test", is_staff=True)
    voucher = VoucherFactory()
    client = Client()
    staff_sign_in(client, staff)
    assert client.get(ADD_URL).status_code == 403
    response = client.post(
        ADD_URL, {"count": "1", "amount": "5000", "currency": "UGX", "expires_in_days": "1"}
    )
    assert response.status_code == 403
    assert VoucherBatch.objects.count() == 1  # the factory's only
    staff.user_permissions.add(Permission.objects.get(codename="view_voucher"))
    client.post(
        LIST_URL,
        {"action": "void_selected", "_selected_action": [voucher.pk], "apply": "1", "reason": "x"},
    )
    assert Voucher.objects.get(pk=voucher.pk).status == "active"


def test_void_action_asks_for_a_reason(admin_client):
    one, two, used = VoucherFactory(), VoucherFactory(), VoucherFactory(amount=Decimal("9000"))
    from vouchers.services import voucher_redeem

    voucher_redeem(voucher_id=used.pk, currency="UGX", user=admin_client.admin)
    selected = {"action": "void_selected", "_selected_action": [one.pk, two.pk, used.pk]}

    confirm = admin_client.post(LIST_URL, selected)
    assert confirm.status_code == 200
    assert "reason" in confirm.content.decode()
    assert Voucher.objects.filter(status="void").count() == 0

    blank = admin_client.post(LIST_URL, {**selected, "apply": "1", "reason": "  "})
    assert blank.status_code == 200
    assert "This field is required" in blank.content.decode()
    assert Voucher.objects.filter(status="void").count() == 0

    done = admin_client.post(
        LIST_URL, {**selected, "apply": "1", "reason": "Stolen from the agent"}, follow=True
    )
    assert done.status_code == 200
    page = done.content.decode()
    assert "Voided 2 voucher(s)" in page
    assert "only active vouchers can be voided" in page
    statuses = dict(Voucher.objects.values_list("pk", "status"))
    assert statuses == {one.pk: "void", two.pk: "void", used.pk: "redeemed"}
    assert Voucher.objects.get(pk=one.pk).voided_by == admin_client.admin
    assert Voucher.objects.get(pk=one.pk).void_reason == "Stolen from the agent"


def test_vouchers_cannot_be_added_edited_or_deleted_in_the_admin(admin_client, voucher):
    assert admin_client.get("/admin/vouchers/voucher/add/").status_code == 403
    page = admin_client.get(f"/admin/vouchers/voucher/{voucher.pk}/change/")
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
    response = admin_client.post(
        f"/admin/vouchers/voucher/{voucher.pk}/change/", {"status": "redeemed", "amount": "1"}
    )
    assert response.status_code == 403
    assert admin_client.get(f"/admin/vouchers/voucher/{voucher.pk}/delete/").status_code == 403
    voucher.refresh_from_db()
    assert (voucher.status, voucher.amount) == ("active", Decimal("50000"))
