"""Account settings: the authenticator app (server-rendered, no JavaScript)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.authenticator import (
    authenticator_device,
    authenticator_enrol_confirm,
    authenticator_enrol_start,
    authenticator_remove,
)
from dtexchange.errors import DomainError


@login_required
@require_http_methods(["GET", "POST"])
def authenticator_settings(request):
    action = request.POST.get("action", "") if request.method == "POST" else ""
    enrolment = None
    if action == "start":
        enrolment = authenticator_enrol_start(user=request.user)
    elif action in ("confirm", "remove"):
        code = request.POST.get("code", "").strip()
        try:
            if action == "confirm":
                authenticator_enrol_confirm(user=request.user, code=code)
                messages.success(
                    request,
                    "Your authenticator app is set up. Withdrawals are paused for a day "
                    "after this change, to protect your money.",
                )
            else:
                authenticator_remove(user=request.user, code=code)
                messages.success(request, "Your authenticator app was removed.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("authenticator_settings")
    return render(
        request,
        "accounts/authenticator.html",
        {"device": authenticator_device(request.user), "enrolment": enrolment},
    )
