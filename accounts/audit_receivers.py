"""Sign-ins to the admin, successful or not, go to the audit trail.

Django sends ``user_logged_in`` / ``user_login_failed`` for every sign-in;
only those made through the admin site's own views are staff sign-ins (the
customer site and the API have their own logs and limits)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts import services
from dtexchange.client_ip import client_ip


def _is_admin_site(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.app_name == "admin"


@receiver(user_logged_in, dispatch_uid="accounts.audit_admin_sign_in")
def audit_admin_sign_in(sender, request=None, user=None, **kwargs):
    if request is not None and user is not None and _is_admin_site(request):
        services.staff_sign_in_record(user=user, ip=client_ip(request))


@receiver(user_login_failed, dispatch_uid="accounts.audit_admin_sign_in_failed")
def audit_admin_sign_in_failed(sender, credentials=None, request=None, **kwargs):
    if request is not None and _is_admin_site(request):
        email = (credentials or {}).get("username") or (credentials or {}).get("email") or ""
        services.staff_sign_in_failure_record(email=email, ip=client_ip(request))
