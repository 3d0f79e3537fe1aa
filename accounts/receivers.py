"""accounts' signal receivers (connected in AccountsConfig.ready)."""

import secrets

from django.conf import settings

from accounts.security import sessions_ended, sign_in_record

DEVICE_COOKIE = "dtx_device"
DEVICE_COOKIE_SALT = "accounts.device"


def session_logged_out(sender, request, user, **kwargs):
    """A log-out ends that session: its cookie-authenticated sockets close."""
    if user is not None and getattr(request, "session", None) is not None:
        sessions_ended(user_id=user.pk, session_key=request.session.session_key)


def session_logged_in(sender, request, user, **kwargs):
    """A browser sign-in (site or admin): known by its long-lived device
    cookie, set on the response by DeviceCookieMiddleware when it is new."""
    if request is None:
        return
    device_id = request.get_signed_cookie(DEVICE_COOKIE, default=None, salt=DEVICE_COOKIE_SALT)
    if not device_id:
        device_id = secrets.token_urlsafe(24)
        request.dtx_new_device_id = device_id
    sign_in_record(
        user=user,
        device_key=f"browser:{device_id}",
        device=request.headers.get("User-Agent", "a web browser")[:200],
    )


class DeviceCookieMiddleware:
    """Gives a browser that just signed in for the first time its device
    cookie (random, signed, HTTP-only, a year)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        device_id = getattr(request, "dtx_new_device_id", None)
        if device_id:
            response.set_signed_cookie(
                DEVICE_COOKIE,
                device_id,
                salt=DEVICE_COOKIE_SALT,
                max_age=365 * 86400,
                httponly=True,
                secure=settings.SESSION_COOKIE_SECURE,
                samesite="Lax",
            )
        return response
