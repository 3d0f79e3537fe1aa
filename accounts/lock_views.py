"""The "this wasn't me" page (``/account/lock/<token>/``) linked from every
security alert email. GET shows what locking does and one button; POST
locks. (A GET that locked would be triggered by mail scanners that open
every link.)"""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts import security
from accounts.throttles import AuthIPThrottle
from accounts.views import throttled


@require_http_methods(["GET", "POST"])
@throttled(AuthIPThrottle)
def account_lock(request, token: str):
    context = {"support_email": settings.SUPPORT_EMAIL}
    try:
        user = security.account_lock_user(token)
    except security.LockLinkInvalid:
        return render(request, "accounts/lock.html", {**context, "invalid": True}, status=400)
    if request.method == "POST":
        security.account_lock(token=token)
        return render(request, "accounts/lock.html", {**context, "locked": True})
    return render(request, "accounts/lock.html", {**context, "email": user.email})
