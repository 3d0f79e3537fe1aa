"""The customer site's account pages (server-rendered; owner: site).

Log in, log out and password reset are Django's own auth views, styled. They
work without JavaScript; every form carries a CSRF token."""

import functools
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import (
    LoginForm,
    PasswordResetForm,
    ResendCodeForm,
    SignupForm,
    VerifyEmailForm,
)
from accounts.throttles import AuthAccountThrottle, AuthIPThrottle, OTPAccountThrottle
from dtexchange.errors import DomainError, InvalidInput

# --- Rate limits ----------------------------------------------------------------
# The pages share the auth API's throttles and their counters (same cache keys),
# so switching between the site and the API gains no extra tries.


class _FormRequest:
    """What the DRF throttles read (META for the client address, data for the
    email, the signed-in user), taken from a plain Django form post."""

    def __init__(self, request, email_field: str):
        self.META = request.META
        self.headers = request.headers
        self.user = getattr(request, "user", None)
        self.data = {"email": request.POST.get(email_field, "")}


def throttled(*throttle_classes, email_field: str = "email"):
    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                shim = _FormRequest(request, email_field)
                for cls in throttle_classes:
                    throttle = cls()
                    if not throttle.allow_request(shim, None):
                        wait = int(throttle.wait() or 60) + 1
                        return render(
                            request, "accounts/throttled.html", {"wait": wait}, status=429
                        )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@method_decorator(throttled(AuthIPThrottle, AuthAccountThrottle, email_field="username"), "post")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@method_decorator(throttled(AuthIPThrottle, AuthAccountThrottle), "post")
class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm  # also for locked accounts: the way to unlock
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- Sign up and email verification -------------------------------------------
# The services answer the same way for known and unknown addresses; these pages
# do too, so the site cannot be used to find out who has an account.

SIGNUP_EMAIL_KEY = "signup_email"
# The token of this browser's own sign-up (accounts.services.Registration):
# the only proof that this browser chose the password, so the only browser a
# verification signs in. A resend never sets it.
SIGNUP_TOKEN_KEY = "signup_registration"  # noqa: S105 - a session key name


def _resend_wait_seconds() -> int:
    return int(settings.OTP_RESEND_INTERVAL.total_seconds())


@require_http_methods(["GET", "POST"])
@throttled(AuthIPThrottle, AuthAccountThrottle)
def signup(request):
    if request.user.is_authenticated and request.user.is_email_verified:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registration = services.user_register(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"]
            )
        except InvalidInput as exc:
            for field, messages_ in (exc.details or {"password": [exc.message]}).items():
                for message in messages_:
                    form.add_error(field if field in form.fields else None, message)
        else:
            request.session[SIGNUP_EMAIL_KEY] = services.email_normalize(form.cleaned_data["email"])
            request.session[SIGNUP_TOKEN_KEY] = registration.token
            request.session["code_sent_at"] = int(time.time())
            return redirect("verify_email")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
@throttled(AuthIPThrottle, OTPAccountThrottle)
def verify_email(request):
    email = request.session.get(SIGNUP_EMAIL_KEY, "")
    if not email and request.user.is_authenticated and not request.user.is_email_verified:
        email = request.user.email
    form = VerifyEmailForm(request.POST or None, initial={"email": email})
    if request.method == "POST" and form.is_valid():
        signed_in_as = request.user.pk if request.user.is_authenticated else None
        try:
            result = services.email_verify(
                email=form.cleaned_data["email"],
                code=form.cleaned_data["code"],
                registration=request.session.get(SIGNUP_TOKEN_KEY),
                signed_in_user_id=signed_in_as,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            # Signed in only in the browser that signed up (it chose the
            # password that now applies) or that was signed in as this user
            # already; anyone else who verifies goes to the log-in page.
            request.session.pop(SIGNUP_EMAIL_KEY, None)
            request.session.pop(SIGNUP_TOKEN_KEY, None)
            if result.password_reset_needed:
                # No sign-up's password was proven to be the mailbox owner's.
                messages.success(
                    request,
                    "Your email is verified. To protect the account, choose its password "
                    "now: we will email you a link.",
                )
                return redirect("password_reset")
            if result.registered_here or signed_in_as == result.user.pk:
                login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, "Your email is verified. Welcome to DT Exchange.")
                return redirect("dashboard")
            messages.success(request, "Your email is verified. Log in to continue.")
            return redirect("login")
    sent_at = request.session.get("code_sent_at", 0)
    wait = max(0, _resend_wait_seconds() - (int(time.time()) - sent_at)) if sent_at else 0
    return render(
        request,
        "accounts/verify_email.html",
        {
            "form": form,
            "email": email,
            "digits": form.digits() if form.is_bound else [""] * 6,
            "resend_wait": wait,
            "resend_interval": _resend_wait_seconds(),
        },
    )


@require_POST
@throttled(AuthIPThrottle, OTPAccountThrottle)
def resend_code(request):
    form = ResendCodeForm(request.POST)
    if form.is_valid():
        services.verification_code_resend(email=form.cleaned_data["email"])
        request.session[SIGNUP_EMAIL_KEY] = services.email_normalize(form.cleaned_data["email"])
        request.session["code_sent_at"] = int(time.time())
        messages.info(
            request,
            "If this address is waiting for verification, a new code is on its way. "
            "The earlier code no longer works.",
        )
    else:
        messages.error(request, "Enter a valid email address.")
    return redirect("verify_email")
