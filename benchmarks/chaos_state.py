"""What benchmarks/chaos.py checks, read from its private database (run by it
as a child process with its DATABASE_URL):

    python benchmarks/chaos_state.py < sandbox.json   -> JSON on stdout

stdin: {"requests": {our reference: {"kind": "collection"|"payout",
"final_status": "success"|"failed"|"pending"}}} as the Relworx sandbox saw them.
"""

import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.management import CommandError, call_command  # noqa: E402
from django.db.models import Count  # noqa: E402

from notifications.models import OutboxDelivery, OutboxEvent  # noqa: E402
from payments.models import MobileMoneyPayment  # noqa: E402
from trading.models import Trade  # noqa: E402

TERMINAL = {"completed", "failed", "cancelled", "expired"}


def _reconcile() -> tuple[bool, list[str]]:
    """``manage.py reconcile_ledger``: every balance equals its entries, every
    transaction and currency sums to zero, no wallet or reserve is negative."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reconcile_ledger", stdout=out, stderr=err)
    except CommandError as exc:
        return False, [*err.getvalue().splitlines(), str(exc)]
    return True, []


def main() -> dict:
    sandbox = json.load(sys.stdin)["requests"]
    reconciled, ledger_problems = _reconcile()
    trades = dict(Trade.objects.values("status").annotate(n=Count("id")).values_list("status", "n"))
    payments = {
        p.reference: p
        for p in MobileMoneyPayment.objects.select_related("trade").defer("msisdn").order_by("pk")
    }
    problems: list[str] = []
    # Each sandbox outcome is settled exactly once, each failure not at all.
    counted = {"success": 0, "failed": 0, "pending": 0}
    for reference, seen in sandbox.items():
        payment = payments.get(reference)
        if payment is None:
            problems.append(f"{reference}: the sandbox has it, we do not")
            continue
        trade = payment.trade
        final = seen["final_status"]
        counted[final] = counted.get(final, 0) + 1
        if seen["kind"] == "collection":
            if final == "success" and not (
                payment.status == "succeeded"
                and trade.status == "completed"
                and trade.ledger_transaction_id
            ):
                problems.append(
                    f"{reference}: paid at Relworx, ours {payment.status}/{trade.status}"
                )
            if final == "failed" and (
                payment.status != "failed"
                or trade.status not in ("failed", "expired")
                or trade.ledger_transaction_id
            ):
                problems.append(
                    f"{reference}: failed at Relworx, ours {payment.status}/{trade.status}"
                )
        else:
            # One refund posting per trade at most (its ledger key is unique).
            refunds = 1 if trade.refund_transaction_id else 0
            if final == "success" and (payment.status != "succeeded" or refunds):
                problems.append(
                    f"{reference}: payout made, ours {payment.status}, {refunds} refunds"
                )
            if final == "failed" and (
                payment.status != "failed" or trade.status != "failed" or refunds != 1
            ):
                problems.append(
                    f"{reference}: payout failed, ours {payment.status}/{trade.status}, "
                    f"{refunds} refunds (must be 1)"
                )
    for reference, payment in payments.items():
        if reference not in sandbox and payment.status != "failed":
            # Never reached Relworx: only a payment that failed to submit may be missing there.
            problems.append(f"{reference}: not at the sandbox but {payment.status}")
    waiting = []
    for t in Trade.objects.exclude(status__in=TERMINAL):
        row = {"reference": t.reference, "status": t.status, "method": t.payment_method}
        for p in t.mobile_money_payments.defer("msisdn"):
            row[p.reference] = {
                "status": p.status,
                "acknowledged": bool(p.internal_reference),
                "submit_attempts": p.submit_attempts,
                "polls": p.attempts,
                "next_poll_at": p.next_poll_at,
                "flagged": p.flag_reason[:80],
            }
        waiting.append(row)
    stuck = [
        {"kind": d.event.kind, "to": d.destination, "attempts": d.attempts,
         "next": d.next_attempt_at, "error": d.last_error[:120]}
        for d in OutboxDelivery.objects.filter(status="pending").select_related("event")[:5]
    ]  # fmt: skip
    emails = OutboxDelivery.objects.filter(destination="email")
    return {
        # reconcile_ledger also refuses any negative wallet or reserve.
        "reconciled": reconciled,
        "ledger_problems": ledger_problems[:20],
        "trades": trades,
        "not_terminal": waiting[:8],
        "not_terminal_count": len(waiting),
        "payments_checked": counted,
        "payment_problems": problems[:50],
        "payment_problem_count": len(problems),
        "outbox_undelivered_events": OutboxEvent.objects.filter(delivered_at__isnull=True).count(),
        "outbox_pending_deliveries": OutboxDelivery.objects.filter(status="pending").count(),
        "outbox_pending_sample": stuck,
        "email_deliveries_delivered": emails.filter(status="delivered").count(),
        "email_delivery_ids": list(emails.filter(status="delivered").values_list("pk", flat=True)),
    }


if __name__ == "__main__":
    print(json.dumps(main(), default=str))
