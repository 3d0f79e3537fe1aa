"""Decorators of the site's views (server-rendered pages)."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


def verified_required(view):
    """Signed in (else the log-in page) and the email verified (else the
    verification page, saying why). The services refuse unverified accounts
    anyway (accounts.services.user_verified_require); this keeps the pages
    from offering what would be refused."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_email_verified:
            messages.info(request, "Verify your email address to start trading.")
            return redirect("verify_email")
        return view(request, *args, **kwargs)

    return wrapper
