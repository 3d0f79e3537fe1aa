import pytest

from accounts.models import User
from tests.factories import UserFactory
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
