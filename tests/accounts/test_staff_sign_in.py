"""Staff sign in to /admin/ with their password AND a code from their
authenticator app (a real TOTP secret, the code computed as the app does);
/admin/login/ is rate-limited like the site's log-in; new staff enrol through
a one-time link with a QR code."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import ADMIN, DEPOSIT_REVIEWER
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.staff import staff_device, staff_sign_in, totp_code

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"


def _login(client, user, code, password=DEFAULT_PASSWORD, **extra):
    return client.post(
        LOGIN, {"username": user.email, "password": password, "otp_token": code}, **extra
    )


def test_a_password_alone_does_not_open_the_admin():
    staff = UserFactory(is_staff=True, is_superuser=True)
    staff_device(staff)
    client = Client()
    response = _login(client, staff, "")
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302  # still the login page
    wrong = f"{(int(totp_code(staff_device(staff))) + 1) % 10**6:06d}"
    response = _login(client, staff, wrong)
    assert b"not right" in response.content
    assert client.get("/admin/").status_code == 302


def test_a_session_signed_in_on_the_site_is_not_enough():
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)  # e.g. signed in at /login/ with the password
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/accounts/user/").status_code == 302


def test_password_and_the_apps_code_open_the_admin_and_a_code_works_once():
    staff = UserFactory(is_staff=True, is_superuser=True)
    device = staff_device(staff)
    client = Client()
    code = totp_code(device)
    assert _login(client, staff, code).status_code == 302
    assert client.get("/admin/").status_code == 200
    replay = Client()
    assert _login(replay, staff, code).status_code == 200  # the same code again: refused
    assert replay.get("/admin/").status_code == 302


def test_staff_without_an_authenticator_are_told_how_to_get_one():
    staff = UserFactory(is_staff=True)
    response = _login(Client(), staff, "123456")
    assert b"Ask an admin for an enrolment link" in response.content


def test_the_customers_email_code_device_is_no_second_factor():
    from accounts.models import EmailOTPDevice

    staff = UserFactory(is_staff=True, is_superuser=True)
    device = EmailOTPDevice.objects.create(user=staff, name="email")
    code = device.generate_code()
    assert b"Ask an admin for an enrolment link" in _login(Client(), staff, code).content


def test_the_admin_login_is_rate_limited_per_address_like_the_sites(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth_account": "3/min",
        },
    }
    staff = UserFactory(is_staff=True, is_superuser=True)
    device = staff_device(staff)
    for n in range(3):
        response = _login(Client(REMOTE_ADDR=f"10.5.0.{n}"), staff, "000001", password="wrong")
        assert response.status_code == 200
    # The fourth try, even with the right password and code, from another address:
    blocked = _login(Client(REMOTE_ADDR="10.5.0.9"), staff, totp_code(device))
    assert blocked.status_code == 429
    # The site's log-in shares the counter (same throttles, same keys).
    site = Client().post("/login/", {"username": staff.email, "password": DEFAULT_PASSWORD})
    assert site.status_code == 429


def test_the_admin_login_is_rate_limited_per_client_ip(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth_ip": "3/min",
        },
    }
    for _n in range(3):
        victim = UserFactory(is_staff=True)
        assert _login(Client(REMOTE_ADDR="10.6.0.1"), victim, "1", password="x").status_code == 200
    assert _login(Client(REMOTE_ADDR="10.6.0.1"), victim, "1", password="x").status_code == 429


# --- enrolment ---------------------------------------------------------------------


def _enrolment_link(admin_client, person) -> str:
    page = admin_client.post(f"/admin/accounts/user/{person.pk}/totp-enrol/")
    assert page.status_code == 200
    return re.search(r'<code id="enrol-link">https?://[^/]+([^<]+)</code>', page.content.decode())[
        1
    ]


def _device_from_page(content: bytes) -> TOTPDevice:
    secret = re.search(rb'<code id="secret">([A-Z2-7]+)</code>', content)[1].decode()
    import base64

    key = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    return TOTPDevice.objects.get(key=key)


def test_new_staff_enrol_with_a_one_time_link_and_then_sign_in():
    boss = UserFactory(is_staff=True, is_superuser=True, roles=[ADMIN])
    admin_client = staff_sign_in(Client(), boss)
    newcomer = UserFactory(is_staff=True, roles=[DEPOSIT_REVIEWER], email="new@dtx.test")
    user_page = admin_client.get(f"/admin/accounts/user/{newcomer.pk}/change/").content
    assert b"Not set up: cannot sign in to the admin" in user_page
    link = _enrolment_link(admin_client, newcomer)

    person = Client()
    page = person.get(link)
    assert page.status_code == 200
    assert b'<img id="qr" src="data:image/svg+xml;base64,' in page.content
    assert b"otpauth://totp/DT%20Exchange%3Anew%40dtx.test?secret=" in page.content
    device = _device_from_page(page.content)
    assert device.user == newcomer and not device.confirmed
    # Wrong password or code: nothing confirmed.
    refused = person.post(link, {"password": "nope", "otp_token": totp_code(device)})
    assert refused.status_code == 400 and b"not right" in refused.content
    device.refresh_from_db()
    assert not device.confirmed
    done = person.post(link, {"password": DEFAULT_PASSWORD, "otp_token": totp_code(device)})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert person.get("/admin/").status_code == 200  # signed in, verified by the device
    device.refresh_from_db()
    assert device.confirmed
    # The link works once.
    assert Client().get(link).status_code == 400
    # And the next sign-in takes the app's code.
    assert _login(Client(), newcomer, totp_code(device)).status_code == 302


def test_a_new_enrolment_replaces_a_lost_phone_only_once_confirmed():
    boss = UserFactory(is_staff=True, is_superuser=True, roles=[ADMIN])
    admin_client = staff_sign_in(Client(), boss)
    staff = UserFactory(is_staff=True)
    old = staff_device(staff)
    link = _enrolment_link(admin_client, staff)
    new = _device_from_page(Client().get(link).content)
    assert _login(Client(), staff, totp_code(old)).status_code == 302  # old one still works
    Client().post(link, {"password": DEFAULT_PASSWORD, "otp_token": totp_code(new)})
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()
    assert _login(Client(), staff, totp_code(new)).status_code == 302


def test_only_admins_create_enrolment_links_and_a_tampered_link_is_refused():
    reviewer = UserFactory(is_staff=True, roles=[DEPOSIT_REVIEWER])
    client = staff_sign_in(Client(), reviewer)
    other = UserFactory(is_staff=True)
    assert client.post(f"/admin/accounts/user/{other.pk}/totp-enrol/").status_code in (302, 403)
    assert not TOTPDevice.objects.filter(user=other).exists()
    assert Client().get("/admin/enrol/not-a-real-token/").status_code == 400


def test_the_command_prints_a_link_for_recovery():
    staff = UserFactory(is_staff=True, is_superuser=True, email="root@dtx.test")
    out = StringIO()
    call_command("staff_totp_enrol", "root@dtx.test", stdout=out)
    link = re.search(r"https?://[^/]+(/admin/enrol/\S+/)", out.getvalue())[1]
    device = _device_from_page(Client().get(link).content)
    assert device.user == staff


def test_demo_staff_get_a_device_and_its_secret_is_printed(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    text = out.getvalue()
    from accounts.management.commands.load_demo_data import DEMO_ADMIN, DEMO_REVIEWER
    from accounts.models import User

    for email, password in (DEMO_REVIEWER, DEMO_ADMIN):
        user = User.objects.get(email=email)
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        assert device.config_url in text
        key = re.search(rf"key ([A-Z2-7]+)\s+{re.escape(device.config_url)}", text)
        assert key, text
        # The printed secret signs the demo staff member in.
        assert _login(Client(), user, totp_code(device), password=password).status_code == 302
    # Idempotent: run again, same devices.
    call_command("load_demo_data", stdout=StringIO())
    assert TOTPDevice.objects.count() == 2
