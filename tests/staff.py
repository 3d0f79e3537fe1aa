"""Sign staff in to the admin the way a person does: password and a code from
their authenticator app, through the real /admin/login/ form. The device has a
real secret; the code is computed from it (RFC 6238), as the app would."""

from __future__ import annotations

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import DEFAULT_PASSWORD


def staff_device(user) -> TOTPDevice:
    """The user's confirmed authenticator (created with a fresh random secret)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)


def totp_code(device: TOTPDevice) -> str:
    """The code the device's app shows now; if this time step's code was
    already used, the next step's (within the device's tolerance), since a
    code works once."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time += device.step * (device.last_t - totp.t() + 1)
    return f"{totp.token():0{device.digits}d}"


def staff_sign_in(client, user, *, password: str = DEFAULT_PASSWORD):
    """Sign ``user`` (staff) in to the admin with their device; returns the
    client. Users from tests.factories have DEFAULT_PASSWORD; others get it."""
    if not user.check_password(password):
        user.set_password(password)
        user.save()
    device = staff_device(user)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": user.email, "password": password, "otp_token": totp_code(device)},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return client
