"""The back office's admin site: staff sign in with their password AND a code
from their authenticator app (django-otp's OTPAdminSite: a session counts for
the admin only once verified by a device), and ``/admin/login/`` is
rate-limited like the site's log-in (same throttles, same counters).

Only TOTP devices count here: the email-code device that verifies a
customer's address is not a second factor for staff.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db import transaction
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.throttles import AuthAccountThrottle, AuthIPThrottle
from accounts.views import throttled


class StaffLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "no_device": (
            "No authenticator app is set up for this account yet. Ask an admin for an "
            "enrolment link."
        ),
        "bad_code": "The code from your authenticator app is not right, or was already used.",
    }

    def clean(self):
        cleaned = super().clean()  # password, active, is_staff
        user = self.get_user()
        if user is None:
            return cleaned
        with transaction.atomic():
            # Locked: two sign-ins racing with one code cannot both use it.
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user=user, confirmed=True)
                .order_by("-pk")
                .first()
            )
            if device is None:
                raise forms.ValidationError(self.error_messages["no_device"], code="no_device")
            if not device.verify_token(self.cleaned_data.get("otp_token") or ""):
                raise forms.ValidationError(self.error_messages["bad_code"], code="bad_code")
        # django-otp marks the session verified by this device at login.
        user.otp_device = device
        return cleaned


class StaffAdminSite(OTPAdminSite):
    site_header = "DT Exchange back office"
    site_title = "DT Exchange back office"
    login_form = StaffLoginForm
    login_template = "admin/staff_login.html"

    def __init__(self, name="admin"):
        super().__init__(name)

    def login(self, request, extra_context=None):
        parent = super().login
        limited = throttled(AuthIPThrottle, AuthAccountThrottle, email_field="username")(
            lambda request: parent(request, extra_context)
        )
        return limited(request)

    def get_urls(self):
        from django.urls import path

        from accounts.staff_views import staff_totp_enrol

        # Outside admin_view: the person enrolling is not signed in yet.
        return [
            path("enrol/<str:token>/", staff_totp_enrol, name="staff_totp_enrol"),
            *super().get_urls(),
        ]
