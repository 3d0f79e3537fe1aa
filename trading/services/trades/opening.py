"""Opening a trade: buy and sell (validation, pricing or the quote,
Idempotency-Key replay, the trade row) and handing it to its payment method.

The trade row is written once, by ``trade_writes.trade_insert``: completed,
with its posting, when the method settles at once from what the user holds
here (``PaymentMethod.buy_settlement``; a sale into the fiat wallet), else
pending, before the method starts its outside payment."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import user_verified_require
from dtexchange.errors import InvalidInput
from ledger.errors import IdempotencyKeyReused
from ledger.models import AccountKind
from ledger.money import fmt
from ledger.services import accounts_get_or_create
from notifications.services import outbox_emit_many
from switches.selectors import trade_stop_check
from trading import buy_limits, payment_methods
from trading.formatting import trade_as_dict
from trading.models.trades import Trade, TradeStatus, TradeType
from trading.services.quotes import PricedTrade, quote_use, trade_price
from trading.services.trade_writes import trade_insert
from trading.services.trades.common import (
    Settlement,
    actor_for,
    buy_limit_reference,
    history_and_events,
    reserve_covers,
    settle_fields,
    trade_post,
)


@dataclass(frozen=True)
class OpenedTrade:
    """What ``trade_open`` did. ``replayed``: an Idempotency-Key replay
    returned the first request's trade (``trade.response_body`` is its first
    response); nothing was written."""

    trade: Trade
    replayed: bool


def _fingerprint(**params) -> str:
    canonical = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(*, user, idempotency_key: str, fingerprint: str) -> OpenedTrade | None:
    trade = Trade.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if trade is None:
        return None
    if trade.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request.",
            details={"idempotency_key": idempotency_key},
        )
    return OpenedTrade(trade=trade, replayed=True)


# 1 to 128 visible ASCII characters, inner spaces allowed (what an HTTP
# header carries unchanged); the API schema publishes the same pattern.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]{0,126}[!-~])?$"
_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not _KEY_RE.fullmatch(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 128 visible ASCII characters.",
            code="invalid_idempotency_key",
            details={"idempotency_key": ["1 to 128 printable characters."]},
        )
    return key


def _new_trade(
    *, user, priced: PricedTrade, details: dict, quote, idempotency_key, fingerprint
) -> Trade:
    """The trade, pending and not written yet."""
    now = timezone.now()
    return Trade(
        user=user,
        trade_type=priced.trade_type,
        crypto_currency=priced.crypto_currency,
        fiat_currency=priced.fiat_currency,
        crypto_amount=priced.crypto_amount,
        fiat_amount=priced.fiat_amount,
        fee_amount=priced.fee_amount,
        fee_rate=priced.fee_rate,
        exchange_rate=priced.exchange_rate,
        payment_method=priced.payment_method,
        payment_details={**details, **priced.swap},
        status=TradeStatus.PENDING,
        quote=quote,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint if idempotency_key else "",
        created_at=now,
        updated_at=now,
    )


def _insert_settled(trade: Trade, settlement: Settlement) -> None:
    """Write the new ``trade`` once, already completed by ``settlement``,
    with both history rows (created, completed), the completion's events
    (the pending state was never visible) and its posting."""
    settle_fields(trade, settlement, now=timezone.now())
    history, events = history_and_events(
        trade,
        previous=TradeStatus.PENDING,
        actor=settlement.actor,
        reason=settlement.reason,
        created_by=actor_for(trade.user),
    )
    if trade.idempotency_key:
        trade.response_body = trade_as_dict(trade)  # what a replay answers
    trade.ledger_transaction = trade_insert(
        trade, history=history, events=events, posting=settlement.posting
    ).transaction


def _insert_pending(trade: Trade, method, details: dict, start_payment) -> None:
    """Write the new ``trade`` pending with its "created" history row, let
    ``start_payment`` start the outside payment (which may move the trade on,
    through this instance or another), and announce the pending trade only
    if it is still pending: an event saying "pending" after the method's own
    "completed" would turn a live page back."""
    history, events = history_and_events(
        trade, previous="", actor=actor_for(trade.user), reason="created"
    )
    trade_insert(trade, history=history, events=[])
    instructions = start_payment(trade, method, details) or {}
    trade.refresh_from_db()
    if trade.status == TradeStatus.PENDING:
        outbox_emit_many(events=events)
    changed = {}
    if instructions:
        trade.instructions = changed["instructions"] = instructions
    if trade.idempotency_key:
        trade.response_body = changed["response_body"] = trade_as_dict(trade)  # for a replay
    if changed:
        Trade.objects.filter(pk=trade.pk).update(**changed)


def trade_open(
    *,
    trade_type: str,
    user,
    crypto_currency: str,
    fiat_currency: str,
    amount: Decimal,
    payment_method: str,
    payment_details: dict | None = None,
    quote_id=None,
    idempotency_key: str | None = None,
) -> OpenedTrade:
    """Open a buy or a sell (``trade_buy``, ``trade_sell``), and say whether an
    Idempotency-Key replay answered it. Nothing opens for an account whose
    email is not verified (403 email_not_verified). One database
    transaction: if anything fails, no trade, no ledger row, no quote use
    remains."""
    if trade_type not in (TradeType.BUY, TradeType.SELL):
        raise InvalidInput(f"Unknown trade type {trade_type!r}.", code="invalid_trade_type")
    user_verified_require(user=user)
    idempotency_key = _check_key(idempotency_key)
    payment_details = payment_details or {}
    fingerprint = _fingerprint(
        trade_type=trade_type,
        crypto=str(crypto_currency).upper(),
        fiat=str(fiat_currency).upper(),
        amount=str(amount.normalize()) if amount.is_finite() else str(amount),
        method=payment_method,
        details=payment_details,
        quote=str(quote_id) if quote_id else None,
    )
    if idempotency_key:
        replay = _replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint)
        if replay is not None:
            return replay
    # Staff stop switches: a frozen account, a paused method (409, with why);
    # a trade already made replays above, trades in flight finish.
    trade_stop_check(user_id=user.pk, method=payment_method, trade_type=trade_type)
    # Pricing (and the price fetch it may do) happens outside the database
    # transaction: no row is locked while we wait on a price source.
    method = payment_methods.get(payment_method)
    if quote_id is None:
        priced = trade_price(
            trade_type=trade_type,
            crypto_currency=crypto_currency,
            fiat_currency=fiat_currency,
            amount=amount,
            payment_method=payment_method,
            payment_details=payment_details,
        )
    try:
        with transaction.atomic():
            quote = None
            if quote_id is not None:
                quote, priced = quote_use(
                    quote_id=quote_id,
                    user=user,
                    trade_type=trade_type,
                    crypto_currency=str(crypto_currency),
                    fiat_currency=str(fiat_currency),
                    amount=amount,
                    payment_method=payment_method,
                    payment_details=payment_details,
                )
            details = method.clean_details(
                user=user,
                trade_type=trade_type,
                fiat=priced.fiat_currency,
                amount=priced.fiat_amount,
                details=payment_details,
            )
            trade = _new_trade(
                user=user,
                priced=priced,
                details=details,
                quote=quote,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
            )
            if trade_type == TradeType.BUY and not method.is_crypto_swap:
                # Under the user's limit lock, before any ledger account is
                # locked; a trade that fails or expires gives it back.
                buy_limits.consume(
                    user=user,
                    currency=trade.fiat_currency,
                    amount=trade.fiat_amount,
                    reference=buy_limit_reference(trade),
                )
            if trade_type == TradeType.BUY:
                _buy(trade, method, details)
            else:
                _sell(trade, method, details)
            return OpenedTrade(trade=trade, replayed=False)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key waited on the
        # unique index and lost: the winner has committed; answer with it.
        if idempotency_key:
            replay = _replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint)
            if replay is not None:
                return replay
        raise


def _buy(trade: Trade, method, details: dict) -> None:
    settlement = method.buy_settlement(trade=trade, details=details)
    if settlement is not None:
        # Paid from what the user holds here: the posting itself refuses an
        # uncovered reserve, writing nothing.
        _insert_settled(trade, settlement)
        return

    def start_payment(trade: Trade, method, details: dict) -> dict:
        # An outside payment must not be requested for a buy the reserve
        # can't deliver.
        reserve_covers(trade.crypto_currency, trade.crypto_amount)
        return method.start_buy(trade=trade, details=details)

    _insert_pending(trade, method, details, start_payment)


def _sell(trade: Trade, method, details: dict) -> None:
    user, fiat, crypto = trade.user, trade.fiat_currency, trade.crypto_currency
    clearing_kind = method.payout_clearing_kind
    # No reserve pre-check: the posting refuses an uncovered reserve before
    # writing anything, and it comes before any payout.
    wallet, reserve_crypto, reserve_fiat, fees, payee = accounts_get_or_create(
        (user, AccountKind.USER_WALLET, crypto),
        (None, AccountKind.RESERVE, crypto),
        (None, AccountKind.RESERVE, fiat),
        (None, AccountKind.FEE_REVENUE, fiat),
        (user, AccountKind.USER_WALLET, fiat)
        if clearing_kind is None
        else (None, clearing_kind, fiat),
    )
    gross, fee = trade.fiat_amount, trade.fee_amount
    posting = {
        "kind": "trade",
        "key": f"trade:{trade.public_id}:sell",
        "entries": [
            (wallet, -trade.crypto_amount),
            (reserve_crypto, trade.crypto_amount),
            (reserve_fiat, -gross),
            (fees, fee),
            (payee, gross - fee),
        ],
        "description": f"Sell {trade.crypto_amount} {crypto} for {fmt(gross - fee, fiat)}",
        "actor": actor_for(user),
        "reference": trade.reference,
    }
    if clearing_kind is None:
        _insert_settled(trade, Settlement(posting=posting, actor=actor_for(user)))
        return

    def start_payment(trade: Trade, method, details: dict) -> dict:
        trade.ledger_transaction = trade_post(**posting).transaction
        return method.start_sell(trade=trade, details=details)

    # The crypto leaves the wallet with the trade's first write: linked by
    # the posting's key, which the foreign key checks at commit.
    trade.ledger_transaction_id = posting["key"]
    _insert_pending(trade, method, details, start_payment)


# --- buy and sell ----------------------------------------------------------------


def trade_buy(
    *,
    user,
    crypto_currency: str,
    fiat_currency: str,
    amount: Decimal,
    payment_method: str,
    payment_details: dict | None = None,
    quote_id=None,
    idempotency_key: str | None = None,
) -> Trade:
    """Open a buy: validate and price it (or use the quote), check that the
    reserve covers it, and either complete it at once with its posting (the
    method's ``buy_settlement``: balance, crypto) or write it ``pending`` and
    hand it to the method's ``start_buy`` (which settles in the request,
    like voucher, or starts an outside payment). One database transaction:
    if anything fails, no trade, no ledger row, no quote use remains.

    An Idempotency-Key replay returns the first request's trade;
    ``trade_open`` also says whether it was one."""
    return trade_open(
        trade_type=TradeType.BUY,
        user=user,
        crypto_currency=crypto_currency,
        fiat_currency=fiat_currency,
        amount=amount,
        payment_method=payment_method,
        payment_details=payment_details,
        quote_id=quote_id,
        idempotency_key=idempotency_key,
    ).trade


def trade_sell(
    *,
    user,
    crypto_currency: str,
    fiat_currency: str,
    amount: Decimal,
    payment_method: str,
    payment_details: dict | None = None,
    quote_id=None,
    idempotency_key: str | None = None,
) -> Trade:
    """Sell crypto. The crypto leaves the user's wallet at once, in the same
    posting that moves the fiat: wallet -crypto, reserve(crypto) +crypto;
    reserve(fiat) -gross, fee revenue +fee, and +net to the user's fiat wallet
    (``balance``: the trade completes) or to the method's clearing account
    (``method.payout_clearing_kind``; then ``method.start_sell`` pays out and
    later calls trade_complete_payout or trade_refund_failed_payout).
    Selling more than the wallet holds: InsufficientBalance (409), nothing
    written. Concurrent sells serialize on the wallet's row lock."""
    return trade_open(
        trade_type=TradeType.SELL,
        user=user,
        crypto_currency=crypto_currency,
        fiat_currency=fiat_currency,
        amount=amount,
        payment_method=payment_method,
        payment_details=payment_details,
        quote_id=quote_id,
        idempotency_key=idempotency_key,
    ).trade
