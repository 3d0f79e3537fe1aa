"""DRF permissions other apps use on their views."""

from rest_framework.permissions import BasePermission


class IsVerified(BasePermission):
    """Signed in and the email address verified: required to trade.

    An unauthenticated request gets DRF's 401 ``not_authenticated``; a signed-in
    user with an unverified email gets 403 ``email_not_verified``. Reads
    ``email_verified_at`` from the row loaded for this request, so verifying
    takes effect at once (no new token needed).
    """

    message = "Verify your email address before trading."
    code = "email_not_verified"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return getattr(user, "email_verified_at", None) is not None
