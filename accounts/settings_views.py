"""The account settings page (server-rendered, works without JavaScript):
the name, the password, the authenticator app, and what other apps register
(accounts.settings_sections: the wallet's payout numbers and tier).

Each form posts to its own URL; a post that fails renders the whole page
again with that form's errors (``settings_page``), one that succeeds
redirects back with a message."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import settings_sections
from accounts.authenticator import authenticator_device
from accounts.forms import NameForm, PasswordChangeForm
from accounts.services import user_name_set, user_password_change
from accounts.throttles import AuthIPThrottle, PasswordCheckUserThrottle
from accounts.views import throttled
from dtexchange.errors import DomainError
from dtexchange.forms import form_errors_place


def settings_page(request, *, forms: dict | None = None, status: int = 200):
    """The page; ``forms`` are the bound forms of a failed post, by name
    (``name``, ``password``, or a registered section's own)."""
    forms = forms or {}
    sections = []
    for section in settings_sections.sections():
        context = section.context(request, forms)
        if context is not None:
            sections.append({"template": section.template, "context": context})
    return render(
        request,
        "accounts/settings.html",
        {
            "name_form": forms.get("name")
            or NameForm(initial={"full_name": request.user.full_name}),
            "password_form": forms.get("password") or PasswordChangeForm(),
            "authenticator": authenticator_device(request.user),
            "sections": sections,
        },
        status=status,
    )


@login_required
@require_GET
def account_settings(request):
    return settings_page(request)


@login_required
@require_POST
def name_change(request):
    form = NameForm(request.POST)
    if form.is_valid():
        try:
            user_name_set(user=request.user, full_name=form.cleaned_data["full_name"])
        except DomainError as exc:
            form_errors_place(form, exc)
        else:
            messages.success(request, "Your name is saved.")
            return redirect("account_settings")
    return settings_page(request, forms={"name": form}, status=400)


@login_required
@require_POST
@throttled(AuthIPThrottle, PasswordCheckUserThrottle)
def password_change(request):
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            user = user_password_change(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            form_errors_place(form, exc)
        else:
            # This browser stays signed in; every other session ends (its
            # hash no longer matches the password).
            update_session_auth_hash(request, user)
            messages.success(
                request,
                "Your password is changed. You are signed out everywhere else, and "
                "withdrawals are paused for a day to protect your money.",
            )
            return redirect("account_settings")
    return settings_page(request, forms={"password": form}, status=400)
