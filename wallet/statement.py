"""The wallet statement: every movement of the user's wallets and every
trade in a range of East Africa Time dates, with opening and closing
balances per currency taken from the ledger itself (the entries' sums), as
JSON or as CSV for a spreadsheet."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from dtexchange.errors import InvalidInput
from ledger.models import AccountKind, LedgerAccount, LedgerEntry
from ledger.money import quantize
from trading.models.trades import Trade
from wallet.limits import EAT

CSV_COLUMNS = (
    "date",
    "time",
    "record",
    "currency",
    "amount",
    "balance",
    "kind",
    "status",
    "description",
    "reference",
)


@dataclass
class Statement:
    date_from: date
    date_to: date
    balances: list[dict] = field(default_factory=list)
    movements: list[dict] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "timezone": "Africa/Kampala",
            "balances": self.balances,
            "movements": self.movements,
            "trades": self.trades,
        }


def statement_range_check(*, date_from: date, date_to: date) -> None:
    """400 when ``from`` is after ``to`` or the range is longer than
    WALLET_STATEMENT_MAX_DAYS."""
    if date_from > date_to:
        raise InvalidInput(
            "from must be on or before to.",
            code="invalid_input",
            details={"from": ["Must be on or before to."]},
        )
    days = (date_to - date_from).days + 1
    if days > settings.WALLET_STATEMENT_MAX_DAYS:
        message = f"At most {settings.WALLET_STATEMENT_MAX_DAYS} days per statement."
        raise InvalidInput(message, code="invalid_input", details={"to": [message]})


def _plain(amount: Decimal, currency: str) -> str:
    return format(quantize(amount, currency), "f")


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment, EAT)


def statement_build(*, user, date_from: date, date_to: date) -> Statement:
    """The statement of ``user`` from the start of ``date_from`` to the end
    of ``date_to`` (both inclusive, EAT). Per currency of the user's wallets:
    ``opening`` (the sum of the account's entries posted before the range),
    ``credits``, ``debits`` and ``closing`` (opening + the range's entries);
    each movement carries the balance after it. Reads only."""
    statement_range_check(date_from=date_from, date_to=date_to)
    start = datetime.combine(date_from, time.min, tzinfo=EAT)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=EAT)
    accounts = list(
        LedgerAccount.objects.filter(owner_id=user.pk, kind=AccountKind.USER_WALLET).order_by(
            "currency"
        )
    )
    statement = Statement(date_from=date_from, date_to=date_to)
    running: dict[int, Decimal] = {}
    for account in accounts:
        opening = LedgerEntry.objects.filter(
            account=account, transaction__created_at__lt=start
        ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
        running[account.pk] = opening
    entries = (
        LedgerEntry.objects.filter(
            account__in=accounts,
            transaction__created_at__gte=start,
            transaction__created_at__lt=end,
        )
        .select_related("transaction")
        .order_by("transaction__created_at", "transaction_id", "pk")
    )
    credits: dict[int, Decimal] = {a.pk: Decimal(0) for a in accounts}
    debits: dict[int, Decimal] = {a.pk: Decimal(0) for a in accounts}
    openings = dict(running)
    for entry in entries:
        txn = entry.transaction
        running[entry.account_id] += entry.amount
        if entry.amount > 0:
            credits[entry.account_id] += entry.amount
        else:
            debits[entry.account_id] += -entry.amount
        local = _local(txn.created_at)
        statement.movements.append(
            {
                "at": txn.created_at.isoformat(),
                "date": local.date().isoformat(),
                "time": local.strftime("%H:%M:%S"),
                "kind": txn.kind,
                "description": txn.description,
                "currency": entry.currency,
                "amount": _plain(entry.amount, entry.currency),
                "balance": _plain(running[entry.account_id], entry.currency),
                "reference": txn.reference,
            }
        )
    for account in accounts:
        code = account.currency
        statement.balances.append(
            {
                "currency": code,
                "opening": _plain(openings[account.pk], code),
                "credits": _plain(credits[account.pk], code),
                "debits": _plain(debits[account.pk], code),
                "closing": _plain(running[account.pk], code),
            }
        )
    trades = Trade.objects.filter(user_id=user.pk, created_at__gte=start, created_at__lt=end)
    for trade in trades.order_by("created_at", "pk"):
        local = _local(trade.created_at)
        statement.trades.append(
            {
                "id": str(trade.public_id),
                "reference": trade.reference,
                "at": trade.created_at.isoformat(),
                "date": local.date().isoformat(),
                "time": local.strftime("%H:%M:%S"),
                "trade_type": trade.trade_type,
                "status": trade.status,
                "crypto_currency": trade.crypto_currency,
                "crypto_amount": _plain(trade.crypto_amount, trade.crypto_currency),
                "fiat_currency": trade.fiat_currency,
                "fiat_amount": _plain(trade.fiat_amount, trade.fiat_currency),
                "fee_amount": _plain(trade.fee_amount, trade.fiat_currency),
                "payment_method": trade.payment_method,
            }
        )
    return statement


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts with = + @ (or a tab) as a formula.
    return "'" + text if text[:1] in ("=", "+", "@", "\t", "\r") else text


def statement_csv(statement: Statement) -> str:
    """One table with a header row: the opening balance of each currency,
    then movements and trades in time order, then the closing balances.
    Dates and times in East Africa Time, amounts as plain decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    first, last = statement.date_from.isoformat(), statement.date_to.isoformat()
    for row in statement.balances:
        writer.writerow(
            [
                first,
                "00:00:00",
                "opening_balance",
                row["currency"],
                "",
                row["opening"],
                "",
                "",
                "Opening balance",
                "",
            ]
        )
    rows = [
        (
            m["at"],
            [
                m["date"],
                m["time"],
                "movement",
                m["currency"],
                m["amount"],
                m["balance"],
                m["kind"],
                "",
                _cell(m["description"]),
                _cell(m["reference"]),
            ],
        )
        for m in statement.movements
    ]
    rows += [
        (
            t["at"],
            [
                t["date"],
                t["time"],
                "trade",
                t["fiat_currency"],
                t["fiat_amount"],
                "",
                t["trade_type"],
                t["status"],
                f"{t['trade_type'].capitalize()} {t['crypto_amount']} {t['crypto_currency']} "
                f"by {t['payment_method']}",
                t["reference"],
            ],
        )
        for t in statement.trades
    ]
    for _, row in sorted(rows, key=lambda r: r[0]):
        writer.writerow(row)
    for row in statement.balances:
        writer.writerow(
            [
                last,
                "23:59:59",
                "closing_balance",
                row["currency"],
                "",
                row["closing"],
                "",
                "",
                "Closing balance",
                "",
            ]
        )
    return out.getvalue()
