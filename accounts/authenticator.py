"""A customer's authenticator app (django-otp TOTP) as their second factor
for withdrawals and payout numbers (staff use the same device for the admin:
accounts.staff_otp).

Enrolment: ``authenticator_enrol_start`` creates an unconfirmed device and
returns its secret and QR code; ``authenticator_enrol_confirm`` with a code
from the app confirms it and removes any other device of the user. Removing
it takes a code from it. Every change stamps ``second_factor_changed_at``
(withdrawals wait a while after it) and emails a "was this you?" alert.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.security import security_alert
from accounts.staff_otp import DEVICE_NAME, totp_qr_data_uri, totp_secret
from dtexchange.errors import Conflict, InvalidInput


class AuthenticatorCodeWrong(InvalidInput):
    code = "invalid_code"
    message = "That code from your authenticator app is not right."


class AuthenticatorNotPending(Conflict):
    code = "not_awaiting_confirmation"
    message = "Start the set-up of an authenticator app first."


class AuthenticatorAbsent(Conflict):
    code = "authenticator_absent"
    message = "No authenticator app is set up for your account."


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into the app
    otpauth_uri: str
    qr_code: str  # an SVG data: URI


def authenticator_device(user) -> TOTPDevice | None:
    """The user's confirmed authenticator, if any."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


def _stamp(user) -> None:
    user.second_factor_changed_at = timezone.now()
    user.save(update_fields=["second_factor_changed_at"])


@transaction.atomic
def authenticator_enrol_start(*, user) -> Enrolment:
    """A fresh unconfirmed device (an earlier unfinished one stops working;
    a confirmed one keeps working until the new one is confirmed)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    secret = totp_secret(device)
    return Enrolment(secret=secret.base32, otpauth_uri=secret.uri, qr_code=totp_qr_data_uri(device))


@transaction.atomic
def authenticator_enrol_confirm(*, user, code: str) -> TOTPDevice:
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("-pk")
        .first()
    )
    if device is None:
        raise AuthenticatorNotPending()
    if not device.verify_token(code or ""):
        raise AuthenticatorCodeWrong()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    _stamp(user)
    security_alert(user=user, what="second_factor_changed", device=device.name)
    return device


@transaction.atomic
def authenticator_remove(*, user, code: str) -> None:
    """Remove the user's authenticator; a code from it proves it is theirs."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=True)
        .order_by("-pk")
        .first()
    )
    if device is None:
        raise AuthenticatorAbsent()
    if not device.verify_token(code or ""):
        raise AuthenticatorCodeWrong()
    TOTPDevice.objects.filter(user=user).delete()
    _stamp(user)
    security_alert(user=user, what="second_factor_changed", device=device.name)
