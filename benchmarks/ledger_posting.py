"""Sequential, in-process posting throughput of the ledger.

Three contenders, each moving 0.01 USD between two accounts, one database
transaction per transfer, on the same PostgreSQL in the same run:

* ``ledger_post``: our service (pk-ordered row locks, idempotency key,
  non-negative check, entries, cached balances; commit-time balance trigger);
* django-hordak 2.0.0 ``Account.transfer_to`` inside ``transaction.atomic``
  (two legs; hordak's own triggers; no locks, no balance check);
* a plain ORM locked transfer: SELECT … FOR UPDATE both rows in pk order,
  check the balance, two F() updates (no journal at all: the ceiling).

Run (PostgreSQL on localhost; uses and migrates its own database):

    .venv/bin/pip install -r benchmarks/requirements.txt
    DJANGO_SETTINGS_MODULE=benchmarks.settings .venv/bin/python benchmarks/ledger_posting.py
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def ensure_database() -> None:
    """Create the benchmark database if it does not exist yet."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="transfers per contender per round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=15,
        help="rounds (contenders interleaved, so load from other processes hits all alike)",
    )
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    ensure_database()

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import F
    from djmoney.money import Money
    from hordak.models import Account

    from accounts.models import User
    from ledger.errors import InsufficientBalance
    from ledger.models import AccountKind, LedgerAccount
    from ledger.selectors import ledger_reconcile
    from ledger.services import house_account, ledger_post, wallet_account

    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:8]
    amount = Decimal("0.01")

    # --- ledger_post: a customer wallet pays into the reserve ----------------
    user = User.objects.create_user(f"bench-{run}@example.test")
    wallet = wallet_account(user=user, currency="USD")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    equity = house_account(kind=AccountKind.EQUITY, currency="USD")
    ledger_post(
        kind="adjustment",
        idempotency_key=f"bench:{run}:fund",
        entries=[(equity, Decimal("-1000000")), (wallet, Decimal("1000000"))],
    )
    counter = iter(range(10**9))

    def post_ledger():
        ledger_post(
            kind="trade",
            idempotency_key=f"bench:{run}:{next(counter)}",
            entries=[(wallet, -amount), (reserve, amount)],
            actor="bench",
        )

    # --- django-hordak --------------------------------------------------------
    h_from = Account.objects.create(
        name=f"bench-from-{run}", type=Account.TYPES.asset, currencies=["USD"]
    )
    h_to = Account.objects.create(
        name=f"bench-to-{run}", type=Account.TYPES.asset, currencies=["USD"]
    )
    money = Money(amount, "USD")

    def post_hordak():
        with transaction.atomic():
            h_from.transfer_to(h_to, money, description="bench")

    # --- plain ORM locked transfer on two bare balance rows --------------------
    # Two clearing accounts of their own currency, outside the ledger proper:
    # only their balance column moves (no entries), which is the point.
    p_from = house_account(kind=AccountKind.BANK_CLEARING, currency="TRX")
    p_to = house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency="TRX")
    LedgerAccount.objects.filter(pk=p_from.pk).update(balance=Decimal("1000000"))

    def post_plain():
        with transaction.atomic():
            rows = dict(
                LedgerAccount.objects.filter(pk__in=(p_from.pk, p_to.pk))
                .order_by("pk")
                .select_for_update()
                .values_list("pk", "balance")
            )
            if rows[p_from.pk] < amount:
                raise InsufficientBalance()
            LedgerAccount.objects.filter(pk=p_from.pk).update(balance=F("balance") - amount)
            LedgerAccount.objects.filter(pk=p_to.pk).update(balance=F("balance") + amount)

    contenders = {
        "ledger_post": post_ledger,
        "hordak transfer_to": post_hordak,
        "plain ORM locked transfer": post_plain,
    }
    for fn in contenders.values():
        for _ in range(args.warmup):
            fn()

    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(args.n):
                fn()
            rates[name].append(args.n / (time.perf_counter() - start))

    # Undo the plain transfers' bypass so this database still reconciles.
    LedgerAccount.objects.filter(pk__in=(p_from.pk, p_to.pk)).update(balance=0)
    report = ledger_reconcile()

    pg = connection.cursor().connection.info.server_version
    print(f"PostgreSQL {pg // 10000}.{pg % 10000}, {args.rounds} rounds x {args.n} transfers")
    print(f"{'contender':<28}{'median/s':>10}{'best/s':>10}")
    for name, values in rates.items():
        print(f"{name:<28}{statistics.median(values):>10.0f}{max(values):>10.0f}")
    ratio = statistics.median(rates["ledger_post"]) / statistics.median(rates["hordak transfer_to"])
    print(f"ledger_post / hordak: {ratio:.2f}x")
    wallet.refresh_from_db()
    posted = args.rounds * args.n + args.warmup
    assert wallet.balance == Decimal("1000000") - posted * amount, wallet.balance
    print("ledger reconciles:", "yes" if report.ok else f"NO {report.problems[:3]}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
