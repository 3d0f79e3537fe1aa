"""The confirmation-code email of a withdrawal or a payout number."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac

# No code in the subject: subjects show on lock screens and in notifications.
SUBJECTS = {
    "withdrawal": "Confirm your DT Exchange withdrawal",
    "payout_number": "Confirm your DT Exchange payout number",
}


def confirmation_code_email_send(*, user_id: int, code: str, purpose: str, object_id: str) -> bool:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    context = {
        "code": code,
        "purpose": purpose,
        "name": user.full_name,
        "minutes": int(settings.OTP_CODE_TTL.total_seconds() // 60),
        "support_email": settings.SUPPORT_EMAIL,
        "site_url": settings.SITE_URL,
    }
    message = EmailMultiAlternatives(
        subject=SUBJECTS[purpose],
        body=render_to_string("email/confirmation_code.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        reply_to=[settings.SUPPORT_EMAIL],
    )
    digest = salted_hmac("wallet.confirmation_email", f"{object_id}:{code}", algorithm="sha256")
    message.esp_extra = {"idempotency_key": f"dtx-confirm/{user_id}/{digest.hexdigest()[:32]}"}
    message.send()
    return True
