import re

import pytest

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.staff import staff_sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = UserFactory(email="boss@example.test", is_staff=True, is_superuser=True)
    staff_sign_in(client, admin)
    return client


def test_staff_find_and_open_users(admin_client):
    user = UserFactory(email="findme@example.test", full_name="Find Me")
    listing = admin_client.get("/admin/accounts/user/", {"q": "findme"})
    assert listing.status_code == 200
    assert b"findme@example.test" in listing.content
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200


def test_staff_add_a_user_by_email(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Added@Example.test",
            "usable_password": "true",
            "password1": "Added-pass-2026",
            "password2": "Added-pass-2026",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="added@example.test")
    assert user.check_password("Added-pass-2026")
    assert user.email_verified_at is None  # staff cannot vouch for an address


def test_an_email_change_in_the_admin_is_audited_and_unverified(
    admin_client, django_capture_on_commit_callbacks, mailoutbox
):
    """Staff cannot vouch for a mailbox: the changed address must be
    verified again (the account cannot trade meanwhile), a code goes to the
    new address, and the change is in the audit trail."""
    from accounts.services import email_verify
    from audit.models import AuditEvent

    person = UserFactory(email="old@example.test")
    assert person.is_email_verified
    url = f"/admin/accounts/user/{person.pk}/change/"
    form = {
        "email": "New@Example.test",
        "full_name": person.full_name,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, form, REMOTE_ADDR="10.1.2.4")
    assert response.status_code == 302, response.content[:2000]
    person.refresh_from_db()
    assert person.email == "new@example.test"
    assert not person.is_email_verified

    (event,) = AuditEvent.objects.filter(action="user.email_change")
    assert event.actor.email == "boss@example.test" and event.subject == person
    assert event.before["email_verified"] is True and event.after["email_verified"] is False
    assert event.before["email_ref"] != event.after["email_ref"]
    assert "example.test" not in str(event.before) + str(event.after)
    assert event.ip == "10.1.2.4"

    (sent,) = [m for m in mailoutbox if m.to == ["new@example.test"]]
    code = re.search(r"\b(\d{6})\b", sent.body)[1]
    assert email_verify(email="new@example.test", code=code).user == person
    person.refresh_from_db()
    assert person.is_email_verified and person.check_password(DEFAULT_PASSWORD)

    # Saving without a change of address records and sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {**form, "email": "new@example.test", "full_name": "Renamed"})
    assert AuditEvent.objects.filter(action="user.email_change").count() == 1
    assert len(mailoutbox) == 1
