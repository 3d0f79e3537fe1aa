"""Seed and read a cluster's private database from outside the test process
(whose own Django connection is the suite's test database):

    python -m tests.deploy.cluster_child seed EMAIL...   -> {"EMAIL": user id, ...}
    python -m tests.deploy.cluster_child state           -> trades, ledger, reconciliation

with DATABASE_URL / REDIS_URL of the cluster and the suite's settings."""

import io
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402
from django.core.management import CommandError, call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from payments.models import MobileMoneyPayment, WebhookEvent  # noqa: E402
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_reserves, fund_wallet  # noqa: E402
from trading.models import Trade  # noqa: E402


def seed(emails: list[str]) -> dict:
    fund_reserves()
    # The nodes run the production password hasher (the suite's is MD5).
    password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "clustersalt", iterations=1000)
    ids = {}
    for email in emails:
        user = UserFactory(email=email)
        User.objects.filter(pk=user.pk).update(password=password)
        fund_wallet(user, "UGX", "100000000")
        fund_wallet(user, "BTC", "0.5")
        ids[email] = user.pk
    return ids


def _reconcile() -> tuple[bool, list[str]]:
    """``manage.py reconcile_ledger``: every balance equals its entries, every
    transaction and currency sums to zero, no wallet or reserve is negative."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reconcile_ledger", stdout=out, stderr=err)
    except CommandError as exc:
        return False, [*err.getvalue().splitlines(), str(exc)]
    return True, []


def state() -> dict:
    reconciled, problems = _reconcile()
    return {
        "reconciled": reconciled,
        "problems": problems[:20],
        "trades": {
            t.reference: {"status": t.status, "id": str(t.public_id)} for t in Trade.objects.all()
        },
        # What a failed wait needs to say where a payment stopped.
        "payments": list(
            MobileMoneyPayment.objects.order_by("pk").values(
                "trade_id",
                "status",
                "internal_reference",
                "submit_attempts",
                "attempts",
                "maybe_sent",
                "waiting_reason",
                "next_poll_at",
                "created_at",
                "updated_at",
            )
        ),
        "webhooks": list(
            WebhookEvent.objects.order_by("pk").values(
                "internal_reference", "status", "result", "received_at"
            )
        ),
    }


if __name__ == "__main__":
    command = sys.argv[1]
    result = seed(sys.argv[2:]) if command == "seed" else state()
    print(json.dumps(result, default=str))
