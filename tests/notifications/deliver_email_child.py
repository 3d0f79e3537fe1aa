"""Run one email delivery in a separate process (a Celery worker) that the
test can kill at the worst moment: ``python -m ... <resend api url> <delivery id>``."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.test import override_settings  # noqa: E402

from notifications import tasks  # noqa: E402
from tests.notifications.resend_stub import API_KEY  # noqa: E402

if __name__ == "__main__":
    api_url, delivery_id = sys.argv[1], int(sys.argv[2])
    mailers = {
        "default": {
            "BACKEND": "dtexchange.mail.ResendEmailBackend",
            "OPTIONS": {"api_key": API_KEY, "api_url": api_url},
        }
    }
    with override_settings(MAILERS=mailers):
        print(tasks.email_deliver(delivery_id))
