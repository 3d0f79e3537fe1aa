"""What every trade service shares: the history + events of a status change,
compare-and-set transitions, row locks, and completing a trade together with
its posting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.utils import timezone

from dtexchange.errors import NotFound
from dtexchange.metrics import trade_changes_count
from ledger.errors import InsufficientBalance
from ledger.models import AccountKind, LedgerAccount
from ledger.money import quantize
from ledger.services import PostResult, house_account, ledger_post_result, ledger_post_send
from notifications.services import outbox_emit_many
from trading import buy_limits
from trading.errors import InsufficientLiquidity, TradeNotSettleable
from trading.formatting import trade_as_dict
from trading.models.trades import Trade, TradeStatus, TradeStatusChange, TradeType

REFUNDED_LABEL = "Failed — refunded to your wallet"


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


def history_and_events(
    trade: Trade, *, previous: str, actor: str, reason: str, created_by: str = ""
) -> tuple[list[TradeStatusChange], list[dict]]:
    """The history rows and outbox events of ``trade``'s move from
    ``previous`` to its current status (not written). ``created_by``: the
    trade is new (``previous`` is its first status): its "created" history
    row comes first; an event is sent only for the status it is written in."""
    changes = []
    if created_by and previous:
        # Settled inside the request that created it: one write for both
        # history rows, and one event (the pending state was never visible).
        changes.append(
            TradeStatusChange(
                from_status="",
                to_status=previous,
                actor=created_by[:128],
                reason="created",
                at=trade.created_at,
            )
        )
    changes.append(
        TradeStatusChange(
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
    changes, events = history_and_events(trade, previous=previous, actor=actor, reason=reason)
    for change in changes:
        change.trade = trade
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
        buy_limits.release(reference=buy_limit_reference(trade))  # nothing was bought
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


@dataclass(frozen=True)
class Settlement:
    """A trade's completion, computed and not yet written: the changed
    amounts (``fields``, a re-priced buy), the one ledger posting
    (``trade_post`` arguments) and who completed it, why."""

    posting: dict
    actor: str
    reason: str = ""
    fields: dict = field(default_factory=dict)


def settle_fields(trade: Trade, settlement: Settlement, *, now) -> dict:
    """Apply ``settlement`` to the ``trade`` instance (completed, linked to its
    posting by the posting's key); return the changed fields."""
    fields = {
        **settlement.fields,
        "status": TradeStatus.COMPLETED,
        "status_reason": "",
        "updated_at": now,
        "completed_at": now,
        "ledger_transaction_id": settlement.posting["key"],
    }
    for name, value in fields.items():
        setattr(trade, name, value)
    return fields


def complete_with_posting(trade: Trade, *, settlement: Settlement) -> Trade:
    """Complete ``trade`` (its row locked by the caller) together with its
    posting. The trade row (linked to the posting by its key), the history
    and the events are written first and the posting last, so the house
    accounts (reserves, fees: every trade touches them) stay locked only for
    the posting and the commit."""
    previous = trade.status
    fields = settle_fields(trade, settlement, now=timezone.now())
    if Trade.objects.filter(pk=trade.pk, status=previous).update(**fields) != 1:
        # Unreachable while the caller holds the row; never complete twice.
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id)})
    record_change(trade, previous=previous, actor=settlement.actor, reason=settlement.reason)
    trade.ledger_transaction = trade_post(**settlement.posting).transaction
    return trade


def trade_post(
    *, kind: str, key: str, entries: list[tuple[LedgerAccount, Decimal]], **kw
) -> PostResult:
    """ledger_post without zero entries (a 0% fee leaves no fee line), and
    with a reserve that can't pay translated to insufficient_liquidity."""
    return _liquidity_translated(
        partial(ledger_post_result, kind=kind, idempotency_key=key, entries=_nonzero(entries), **kw)
    )


def trade_post_send(
    cursor, *, kind: str, key: str, entries: list[tuple[LedgerAccount, Decimal]], **kw
) -> Callable[[], PostResult]:
    """``trade_post`` sent on ``cursor`` in the round trip of the caller's own
    statements (``ledger_post_send``); the returned function gives its
    result once the round trip is done."""
    result = ledger_post_send(
        cursor, kind=kind, idempotency_key=key, entries=_nonzero(entries), **kw
    )
    return partial(_liquidity_translated, result)


def _nonzero(entries: list[tuple[LedgerAccount, Decimal]]) -> list[tuple[LedgerAccount, Decimal]]:
    return [(account, amount) for account, amount in entries if not amount.is_zero()]


def _liquidity_translated(post: Callable[[], PostResult]) -> PostResult:
    try:
        return post()
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
