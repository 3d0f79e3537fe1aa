"""The staff authenticator enrolment page (``/admin/enrol/<token>/``): the
QR code and secret of the link's device, then password + a code from the app
to confirm it. An adapter over accounts.staff_otp."""

from __future__ import annotations

import django_otp
from django.contrib.auth import login
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from accounts import staff_otp
from accounts.throttles import AuthIPThrottle
from accounts.views import throttled


@require_http_methods(["GET", "POST"])
@throttled(AuthIPThrottle)
def staff_totp_enrol(request, token: str):
    from django.contrib import admin

    context = {**admin.site.each_context(request), "title": "Set up your authenticator app"}
    try:
        device = staff_otp.staff_totp_enrolment_device(token)
    except staff_otp.EnrolmentInvalid as exc:
        return TemplateResponse(
            request, "admin/staff_enrol.html", {**context, "invalid": exc.message}, status=400
        )
    error = ""
    if request.method == "POST":
        try:
            device = staff_otp.staff_totp_enrolment_finish(
                token=token,
                password=request.POST.get("password", ""),
                code=request.POST.get("otp_token", ""),
            )
        except staff_otp.EnrolmentInvalid as exc:
            return TemplateResponse(
                request, "admin/staff_enrol.html", {**context, "invalid": exc.message}, status=400
            )
        except staff_otp.EnrolmentRefused as exc:
            error = exc.message
        else:
            login(request, device.user, backend="django.contrib.auth.backends.ModelBackend")
            django_otp.login(request, device)
            return redirect("admin:index")
    secret = staff_otp.totp_secret(device)
    return TemplateResponse(
        request,
        "admin/staff_enrol.html",
        {
            **context,
            "email": device.user.email,
            "qr": staff_otp.totp_qr_data_uri(device),
            "secret": secret.base32,
            "uri": secret.uri,
            "error": error,
        },
        status=400 if error else 200,
    )
