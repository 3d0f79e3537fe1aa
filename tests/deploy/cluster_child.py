"""Seed and read a cluster's private database from outside the test process
(whose own Django connection is the suite's test database):

    python -m tests.deploy.cluster_child seed EMAIL...   -> {"EMAIL": user id, ...}
    python -m tests.deploy.cluster_child state           -> trades, ledger, reconciliation

with DATABASE_URL / REDIS_URL of the cluster and the suite's settings."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402
from django.db.models import Count  # noqa: E402

from accounts.models import User  # noqa: E402
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_reserves, fund_wallet  # noqa: E402
from trading.models import LedgerAccount, LedgerTransaction, Trade  # noqa: E402
from trading.selectors.ledger import ledger_reconcile  # noqa: E402


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


def state() -> dict:
    report = ledger_reconcile()
    per_key = dict(
        LedgerTransaction.objects.values("idempotency_key")
        .annotate(n=Count("id"))
        .values_list("idempotency_key", "n")
    )
    return {
        "reconciled": report.ok,
        "problems": [p.message for p in report.problems],
        "trades": {
            t.reference: {"status": t.status, "id": str(t.public_id)} for t in Trade.objects.all()
        },
        "ledger_transactions": LedgerTransaction.objects.count(),
        "ledger_keys": per_key,
        "negative_wallets": LedgerAccount.objects.filter(
            owner__isnull=False, balance__lt=0
        ).count(),
    }


if __name__ == "__main__":
    command = sys.argv[1]
    result = seed(sys.argv[2:]) if command == "seed" else state()
    print(json.dumps(result, default=str))
