"""What every trade service shares: its errors, the history + events of a status
change, compare-and-set transitions, row locks, the trade's ledger accounts
and completing a trade together with its posting."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from dtexchange.errors import Conflict, NotFound
from dtexchange.metrics import trade_changes_count
from ledger.errors import InsufficientBalance
from ledger.models import AccountKind, LedgerAccount
from ledger.money import quantize
from ledger.services import fast_sql_enabled, house_account, ledger_post, wallet_account
from notifications.services import outbox_emit_many
from trading.models.trades import Trade, TradeStatus, TradeStatusChange, TradeType
from trading.selectors.trades import trade_as_dict
from trading.services.trade_writes import trade_insert_settled
from wallet.limits import limit_release

REFUNDED_LABEL = "Failed — refunded to your wallet"


class TradeNotSettleable(Conflict):
    code = "trade_not_settleable"
    message = "This trade can no longer be settled."


class TradeNotCancellable(Conflict):
    code = "trade_not_cancellable"
    message = "Only a pending trade can be cancelled."


class InsufficientLiquidity(Conflict):
    code = "insufficient_liquidity"
    message = "The exchange cannot cover this trade right now; please try a smaller amount."


# --- helpers -------------------------------------------------------------------


def actor_for(user) -> str:
    return f"user:{user.pk}"


def _payload(trade: Trade, previous_status: str, reason: str) -> dict:
    d = trade_as_dict(trade)
    return {
        "trade_id": d["id"],
        "status": d["status"],
        "previous_status": previous_status,
        "trade_type": d["trade_type"],
        "crypto_currency": d["crypto_currency"],
        "fiat_currency": d["fiat_currency"],
        "crypto_amount": d["crypto_amount"],
        "fiat_amount": d["fiat_amount"],
        "fee_amount": d["fee_amount"],
        "fee_rate": d["fee_rate"],
        "exchange_rate": d["exchange_rate"],
        "payment_method": d["payment_method"],
        "reference": d["reference"],
        "reason": reason,
        "status_label": d["status_label"],
        "created_at": d["created_at"],
        "updated_at": d["updated_at"],
    }


def _anonymised(amount: Decimal) -> str:
    """The public activity feed shows amounts to 2 significant digits, so a
    completed trade can't be matched to one person's exact balance."""
    if amount.is_zero():
        return "0"
    rounded = Decimal(f"{amount:.2g}")
    text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _history_and_events(
    trade: Trade, *, previous: str, actor: str, reason: str
) -> tuple[list[TradeStatusChange], list[dict]]:
    """The history rows and outbox events of ``trade``'s move from
    ``previous`` to its current status (not written)."""
    changes = []
    created_by = trade.__dict__.pop("_unrecorded_creation", None)
    if created_by is not None and previous:
        # Settled inside the request that created it: one write for both
        # history rows, and one event (the pending state was never visible).
        changes.append(
            TradeStatusChange(
                trade=trade if trade.pk else None,
                from_status="",
                to_status=TradeStatus.PENDING,
                actor=created_by[:128],
                reason="created",
                at=trade.created_at,
            )
        )
    changes.append(
        TradeStatusChange(
            trade=trade if trade.pk else None,
            from_status=previous,
            to_status=trade.status,
            actor=actor[:128],
            reason=reason[:255],
            at=trade.updated_at,
        )
    )
    trade_changes_count(trade, [change.to_status for change in changes])
    events = [
        {
            "kind": "trade.updated",
            "user_id": trade.user_id,
            "payload": _payload(trade, previous, reason),
        }
    ]
    if trade.status == TradeStatus.COMPLETED:
        events.append(
            {
                "kind": "activity",
                "payload": {
                    "crypto_currency": trade.crypto_currency,
                    "trade_type": trade.trade_type,
                    "amount": _anonymised(quantize(trade.crypto_amount, trade.crypto_currency)),
                    "payment_method": trade.payment_method,
                    "at": trade.updated_at.isoformat(),
                },
            }
        )
    return changes, events


def record_change(trade: Trade, *, previous: str, actor: str, reason: str) -> None:
    changes, events = _history_and_events(trade, previous=previous, actor=actor, reason=reason)
    TradeStatusChange.objects.bulk_create(changes)
    # Both events of a completion in one INSERT.
    outbox_emit_many(events=events)


def transition(
    trade: Trade, *, to: str, actor: str, reason: str = "", label: str = "", **fields
) -> bool:
    """Compare-and-set ``trade`` from its current status to ``to``; on success
    update the instance, record and emit. Returns False (nothing written) when
    another worker changed the status first."""
    now = timezone.now()
    previous = trade.status
    if to == TradeStatus.COMPLETED:
        fields.setdefault("completed_at", now)
    changed = Trade.objects.filter(pk=trade.pk, status=previous).update(
        status=to, status_reason=label, updated_at=now, **fields
    )
    if changed != 1:
        return False
    trade.status, trade.status_reason, trade.updated_at = to, label, now
    for name, value in fields.items():
        setattr(trade, name, value)
    if trade.trade_type == TradeType.BUY and to in _NOT_BOUGHT:
        limit_release(reference=buy_limit_reference(trade))  # nothing was bought
    record_change(trade, previous=previous, actor=actor, reason=reason)
    return True


_NOT_BOUGHT = (TradeStatus.FAILED, TradeStatus.CANCELLED, TradeStatus.EXPIRED)


def buy_limit_reference(trade: Trade) -> str:
    """What a buy's use of the user's buy limit is recorded under."""
    return f"trade:{trade.public_id}"


def trade_lock(trade_id: int) -> Trade:
    # of=("self",): lock the trade row only, not the joined user row.
    trade = (
        Trade.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=trade_id)
        .first()
    )
    if trade is None:
        raise NotFound("No such trade.", code="trade_not_found", details={"trade_id": trade_id})
    return trade


_ACCOUNTS_SQL = (
    f"SELECT id, owner_id, currency, kind FROM {LedgerAccount._meta.db_table} "  # noqa: S608
    "WHERE (owner_id = ANY(%s) AND kind = ANY(%s) AND currency = ANY(%s)) "
    "OR (owner_id IS NULL AND kind = ANY(%s) AND currency = ANY(%s))"
)
# In the model's field order: Model.from_db assigns the values in that order.
_ACCOUNT_FIELDS = ["id", "owner_id", "currency", "kind"]


def trade_accounts(*specs: tuple) -> list[LedgerAccount]:
    """The ledger accounts of ``(owner or None, kind, currency)`` specs in one
    query; any that does not exist yet is created by the ledger's race-safe
    get-or-create helpers. The instances carry id, owner, kind and currency
    (all a posting needs); ``balance`` is read from the database if asked."""
    owned = [(owner, kind, code) for owner, kind, code in specs if owner]
    house = [(kind, code) for owner, kind, code in specs if not owner]
    if fast_sql_enabled():
        # One plain statement: building the same filter with the ORM cost
        # more CPU than any other part of a trade request.
        with connection.cursor() as cursor:
            cursor.execute(
                _ACCOUNTS_SQL,
                # str(): psycopg would send an Enum member's name, not its value.
                [
                    sorted({o.pk for o, _, _ in owned}),
                    sorted({str(k) for _, k, _ in owned}),
                    sorted({str(c) for _, _, c in owned}),
                    sorted({str(k) for k, _ in house}),
                    sorted({str(c) for _, c in house}),
                ],
            )
            rows = [
                LedgerAccount.from_db(connection.alias, _ACCOUNT_FIELDS, row)
                for row in cursor.fetchall()
            ]
    else:
        rows = LedgerAccount.objects.filter(
            Q(owner__isnull=True) | Q(owner_id__in={o.pk for o, _, _ in owned}),
            kind__in={kind for _, kind, _ in specs},
            currency__in={code for _, _, code in specs},
        )
    found = {(a.owner_id, a.kind, a.currency): a for a in rows}
    out = []
    for owner, kind, code in specs:
        key = (owner.pk if owner else None, kind, code)
        if key not in found:
            found[key] = (
                wallet_account(user=owner, currency=code)
                if owner
                else house_account(kind=kind, currency=code)
            )
        out.append(found[key])
    return out


def complete_with_posting(
    trade: Trade,
    *,
    actor: str,
    reason: str = "",
    posting: dict,
    fields: dict | None = None,
) -> Trade:
    """Complete ``trade`` (held by the caller: locked, or created in this
    transaction) together with one ledger posting. The trade row (linked to
    the posting by its key), the history and the events are written first
    and the posting last, so the house accounts (reserves, fees: every trade
    touches them) stay locked only for the posting and the commit."""
    fields = dict(fields or {})
    now = timezone.now()
    previous = trade.status
    fields.update(
        status=TradeStatus.COMPLETED,
        status_reason="",
        updated_at=now,
        completed_at=now,
        ledger_transaction_id=posting["key"],
    )
    if trade.pk is None:
        # Opened in this request by a method that settles at once: written
        # now, already completed, in one round trip (trade_writes).
        for name, value in fields.items():
            setattr(trade, name, value)
        history, events = _history_and_events(trade, previous=previous, actor=actor, reason=reason)
        if trade.idempotency_key:
            trade.response_body = trade_as_dict(trade)  # what a replay answers
        trade_insert_settled(trade, history=history, events=events)
    else:
        if Trade.objects.filter(pk=trade.pk, status=previous).update(**fields) != 1:
            # Unreachable while the caller holds the row; never complete twice.
            raise TradeNotSettleable(details={"trade_id": str(trade.public_id)})
        for name, value in fields.items():
            setattr(trade, name, value)
        record_change(trade, previous=previous, actor=actor, reason=reason)
    txn = trade_post(**posting)
    trade.ledger_transaction = txn
    return trade


def trade_post(*, kind: str, key: str, entries: list[tuple[LedgerAccount, Decimal]], **kw):
    """ledger_post without zero entries (a 0% fee leaves no fee line), and
    with a reserve that can't pay translated to insufficient_liquidity."""
    entries = [(account, amount) for account, amount in entries if not amount.is_zero()]
    try:
        return ledger_post(kind=kind, idempotency_key=key, entries=entries, **kw)
    except InsufficientBalance as exc:
        # The ledger reports a user's own shortfall with their figures
        # ("available"); a house reserve's shortfall carries no figures.
        if "available" not in exc.details:
            raise InsufficientLiquidity(details={"currency": exc.details.get("currency")}) from exc
        raise


def reserve_covers(currency: str, amount: Decimal) -> None:
    """Before anything is charged. Unlocked read: the posting re-checks under
    the lock; this only turns the common case into a clean 409 early."""
    reserve = house_account(kind=AccountKind.RESERVE, currency=currency)
    if reserve.balance < amount:
        raise InsufficientLiquidity(details={"currency": currency})
