"""Verification email: rendered from templates/email/verification_code.{html,txt}."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac

from accounts.models import User

# No code in the subject: subjects show on lock screens and in notifications.
SUBJECT = "Your DT Exchange verification code"


def verification_code_email_send(*, user_id: int, code: str) -> bool:
    """Send the code to the user's address, unless they no longer need it
    (verified meanwhile, deactivated or deleted). Returns whether it was sent."""
    user = User.objects.filter(pk=user_id, email_verified_at__isnull=True, is_active=True).first()
    if user is None:
        return False
    minutes = int(settings.OTP_CODE_TTL.total_seconds() // 60)
    context = {
        "code": code,
        "email": user.email,
        "name": user.full_name,
        "minutes": minutes,
        "support_email": settings.SUPPORT_EMAIL,
        "site_url": settings.SITE_URL,
    }
    message = EmailMultiAlternatives(
        subject=SUBJECT,
        body=render_to_string("email/verification_code.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        reply_to=[settings.SUPPORT_EMAIL],
    )
    message.attach_alternative(
        render_to_string("email/verification_code.html", context), "text/html"
    )
    # The task retries on errors, including a lost answer after Resend took
    # the email: the same code for the same user is one Resend request
    # (Idempotency-Key, dtexchange.mail), named without revealing the code.
    message.esp_extra = {"idempotency_key": verification_email_idempotency_key(user.pk, code)}
    message.send()
    return True


def verification_email_idempotency_key(user_id: int, code: str) -> str:
    digest = salted_hmac("accounts.verification_email", f"{user_id}:{code}", algorithm="sha256")
    return f"dtx-otp/{user_id}/{digest.hexdigest()[:32]}"
