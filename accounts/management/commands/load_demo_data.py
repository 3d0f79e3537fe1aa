from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from accounts.signals import demo_data_requested
from accounts.staff_otp import staff_totp_demo_device
from accounts.staff_otp import totp_secret as staff_totp_secret

DEMO_CUSTOMER = ("demo@dtexchange.ug", "demo-pass-2026")
DEMO_REVIEWER = ("reviewer@dtexchange.ug", "review-pass-2026")
DEMO_ADMIN = ("admin@dtexchange.ug", "admin-pass-2026")


class Command(BaseCommand):
    help = "Create (idempotently) a verified demo customer, a deposit reviewer and an admin."

    def _user(self, email: str, password: str, **extra) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, password, email_verified_at=timezone.now(), **extra
            )
        return user

    def handle(self, *args, **options):
        from accounts.roles import ensure_roles

        if settings.DTX_PROFILE != "embedded" or not settings.DEBUG:
            # The demo admin's password is in the source: never on a real site.
            raise CommandError(
                "load_demo_data refuses to run with DEBUG off or DTX_PROFILE=production: it "
                "creates staff accounts whose passwords are public. It is for the embedded "
                "default (`make run`) only."
            )

        ensure_roles()
        customer = self._user(*DEMO_CUSTOMER, full_name="Demo Customer")
        customer.groups.add(Group.objects.get(name="customer"))
        reviewer = self._user(*DEMO_REVIEWER, full_name="Deposit Reviewer", is_staff=True)
        reviewer.groups.add(Group.objects.get(name="deposit_reviewer"))
        admin = User.objects.filter(email=DEMO_ADMIN[0]).first() or User.objects.create_superuser(
            *DEMO_ADMIN, full_name="Admin"
        )
        admin.groups.add(Group.objects.get(name="admin"))

        out = self.stdout.write
        out("Demo accounts (the site is on http://127.0.0.1:8000):")
        out(f"  customer  {DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[1]}")
        out(f"  reviewer  {DEMO_REVIEWER[0]} / {DEMO_REVIEWER[1]}  (admin: /admin/)")
        out(f"  admin     {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}")
        # The admin asks staff for a code from an authenticator app: add these
        # secrets to one (scan the otpauth:// URI as a QR code, or type the key).
        out("Back-office authenticator secrets (TOTP, 6 digits, 30 s):")
        for label, person in (("reviewer", reviewer), ("admin", admin)):
            secret = staff_totp_secret(staff_totp_demo_device(user=person))
            out(f"  {label:<9} key {secret.base32}")
            out(f"            {secret.uri}")
        demo_data_requested.send(
            sender=self.__class__, customer=customer, reviewer=reviewer, stdout=out
        )
