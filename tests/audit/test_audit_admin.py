"""The audit trail in the admin: readable with filters by the admin role,
by nobody else, and never editable."""

import pytest

from accounts.roles import ADMIN, DEPOSIT_REVIEWER
from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import UserFactory
from tests.staff import staff_sign_in

pytestmark = pytest.mark.django_db
LIST = "/admin/audit/auditevent/"


@pytest.fixture
def events():
    staff = UserFactory(is_staff=True, email="reviewer@example.test")
    audit_record(
        action="deposit.approve",
        actor=staff,
        object_type="payments.bankdeposit",
        object_id=41,
        request_id="req-find-me",
    )
    audit_record(action="reserve.fund", actor_label="command:fund_reserve")
    return staff


def test_admins_read_and_filter_the_trail(client, events):
    staff_sign_in(client, UserFactory(roles=[ADMIN], is_staff=True))
    page = client.get(LIST)
    assert page.status_code == 200
    assert b"deposit.approve" in page.content and b"reserve.fund" in page.content
    filtered = client.get(LIST, {"action": "reserve.fund"})
    assert b"command:fund_reserve" in filtered.content
    assert b"req-find-me" not in filtered.content
    found = client.get(LIST, {"q": "req-find-me"})
    assert b"req-find-me" in found.content and b"command:fund_reserve" not in found.content
    event = AuditEvent.objects.get(action="deposit.approve")
    detail = client.get(f"{LIST}{event.pk}/change/")
    assert detail.status_code == 200 and event.hash.encode() in detail.content
    assert b'name="_save"' not in detail.content  # nothing to save
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.exclude(action="admin.sign_in").count() == 2


def test_other_staff_cannot_see_it(client, events):
    staff_sign_in(client, UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True))
    assert client.get(LIST).status_code == 403
    assert b"Audit" not in client.get("/admin/").content
