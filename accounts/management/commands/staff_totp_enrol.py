"""Print a one-time authenticator enrolment link for a staff member: the way
in for the first admin of a new site, and the recovery path when every admin
has lost their authenticator (README, Security)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from accounts import staff_otp
from accounts.models import User


class Command(BaseCommand):
    help = "Print a one-time link with which a staff member sets up their authenticator app."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"No user {email}.")
        try:
            token = staff_otp.staff_totp_enrolment_start(user=user)
        except staff_otp.EnrolmentInvalid as exc:
            raise CommandError(exc.message) from exc
        link = settings.SITE_URL.rstrip("/") + reverse("admin:staff_totp_enrol", args=[token])
        self.stdout.write(
            f"Enrolment link for {user.email} (valid {settings.STAFF_TOTP_ENROL_HOURS} h, once):"
        )
        self.stdout.write(link)
