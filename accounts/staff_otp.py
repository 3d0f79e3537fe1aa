"""Staff sign in to the admin with a second factor: a TOTP authenticator app
(django-otp's TOTPDevice). There is no setting that turns it off.

Enrolment: an admin (or, on the server, ``manage.py staff_totp_enrol EMAIL``)
starts it for a staff member, which creates an unconfirmed device and a
signed, expiring one-time link. The staff member opens the link, scans the QR
code (or types the base32 secret) into an authenticator app, and confirms with
their password and a code from the app: the device is confirmed and replaces
any earlier one (a lost phone stops working). Until then they cannot sign in
to the admin.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import segno
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.security import security_alert
from dtexchange.errors import DomainError

ENROL_SALT = "accounts.staff_totp_enrol"
DEVICE_NAME = "Authenticator app"


class EnrolmentInvalid(DomainError):
    code = "enrolment_invalid"
    message = "This enrolment link is not valid any more. Ask an admin for a new one."
    status = 400


class EnrolmentRefused(DomainError):
    code = "enrolment_refused"
    message = "The password or the code from the app is not right."
    status = 400


@dataclass(frozen=True)
class TotpSecret:
    base32: str
    uri: str


def totp_secret(device: TOTPDevice) -> TotpSecret:
    """The device's secret as an authenticator app takes it."""
    return TotpSecret(
        base32=base64.b32encode(device.bin_key).decode().rstrip("="), uri=device.config_url
    )


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI as a QR code, an SVG data: URI (the site's
    Content-Security-Policy allows data: images; no script, no request)."""
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(buffer, kind="svg", scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def staff_totp_device(user) -> TOTPDevice | None:
    """The confirmed authenticator of a staff member, if any."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


@transaction.atomic
def staff_totp_enrolment_start(*, user) -> str:
    """A fresh, unconfirmed device for ``user`` (staff only) and the signed
    token of its enrolment link (valid ``STAFF_TOTP_ENROL_HOURS``). An earlier
    unfinished enrolment stops working; a confirmed device keeps working until
    the new one is confirmed."""
    if not (user.is_active and user.is_staff):
        raise EnrolmentInvalid("Only active staff members use an authenticator for the admin.")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return signing.dumps({"u": user.pk, "d": device.pk}, salt=ENROL_SALT)


def staff_totp_enrolment_device(token: str) -> TOTPDevice:
    """The unconfirmed device a link is for, or EnrolmentInvalid."""
    try:
        data = signing.loads(token, salt=ENROL_SALT, max_age=settings.STAFF_TOTP_ENROL_HOURS * 3600)
    except signing.BadSignature as exc:  # also SignatureExpired
        raise EnrolmentInvalid() from exc
    device = (
        TOTPDevice.objects.select_related("user")
        .filter(pk=data.get("d"), user_id=data.get("u"), confirmed=False)
        .first()
    )
    if device is None or not (device.user.is_active and device.user.is_staff):
        raise EnrolmentInvalid()
    return device


@transaction.atomic
def staff_totp_enrolment_finish(*, token: str, password: str, code: str) -> TOTPDevice:
    """Confirm the link's device with the staff member's password and a code
    from their app; every other authenticator of theirs is removed. Returns
    the confirmed device (the caller signs them in with it)."""
    device = staff_totp_enrolment_device(token)
    device = TOTPDevice.objects.select_for_update().select_related("user").get(pk=device.pk)
    if device.confirmed:
        raise EnrolmentInvalid()
    if not device.user.check_password(password or "") or not device.verify_token(code or ""):
        raise EnrolmentRefused()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.user.second_factor_changed_at = timezone.now()
    device.user.save(update_fields=["second_factor_changed_at"])
    security_alert(user=device.user, what="second_factor_changed", device=device.name)
    return device


def staff_totp_demo_device(*, user) -> TOTPDevice:
    """The demo staff's confirmed device (load_demo_data, embedded default
    only): kept across runs so an authenticator app set up once keeps working."""
    device = staff_totp_device(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    return device
