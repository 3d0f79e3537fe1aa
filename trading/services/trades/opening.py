"""Opening a trade: buy and sell (validation, pricing or the quote,
Idempotency-Key replay, the trade row) and handing it to its payment method."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import user_verified_require
from dtexchange.errors import InvalidInput
from dtexchange.metrics import trade_changes_count
from ledger.errors import IdempotencyKeyReused
from ledger.models import AccountKind
from ledger.money import fmt
from switches.selectors import trade_stop_check
from trading import payment_methods
from trading.models.trades import Trade, TradeStatus, TradeStatusChange, TradeType
from trading.selectors.trades import trade_as_dict
from trading.services.quotes import PricedTrade, quote_use, trade_price
from trading.services.trades.common import (
    actor_for,
    complete_with_posting,
    record_change,
    reserve_covers,
    trade_accounts,
    trade_post,
)


def _fingerprint(**params) -> str:
    canonical = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(*, user, idempotency_key: str, fingerprint: str) -> Trade | None:
    trade = Trade.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if trade is None:
        return None
    if trade.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request.",
            details={"idempotency_key": idempotency_key},
        )
    trade.replayed = True
    return trade


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


def _create(
    *, user, priced: PricedTrade, details: dict, quote, idempotency_key, fingerprint, defer: bool
) -> Trade:
    """Insert the pending trade. A concurrent request with the same
    Idempotency-Key waits on the unique index and fails here (IntegrityError);
    the savepoint keeps the caller's transaction usable for the replay.

    ``defer``: the method settles at once without needing the row; it is
    written completed, with its posting (complete_with_posting), and a
    concurrent same-key request fails on the index at that point instead."""
    now = timezone.now()
    trade = Trade(
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
    if defer:
        pass
    elif idempotency_key:
        with transaction.atomic():
            trade.save(force_insert=True)
    else:
        trade.save(force_insert=True)
    # Recorded when the request's work is done: with the settlement if the
    # method settles at once, else as "created" (see record_change).
    trade._unrecorded_creation = actor_for(user)
    return trade


def _record_creation(trade: Trade) -> None:
    """The method left the trade pending, or moved it through another
    instance (e.g. ``trade_settle_buy(trade_id=...)``, which re-reads the
    row). In the second case only the history row is added: an event saying
    "pending" after the one saying "completed" would turn a live page back."""
    current = Trade.objects.filter(pk=trade.pk).values_list("status", flat=True).get()
    if current == trade.status:
        record_change(trade, previous="", actor=trade._unrecorded_creation, reason="created")
        return
    trade_changes_count(trade, [TradeStatus.PENDING])
    TradeStatusChange.objects.create(
        trade=trade,
        from_status="",
        to_status=TradeStatus.PENDING,
        actor=trade.__dict__.pop("_unrecorded_creation")[:128],
        reason="created",
        at=trade.created_at,
    )
    trade.refresh_from_db()


def _store_response(trade: Trade) -> None:
    if trade.idempotency_key:
        body = trade_as_dict(trade)
        if body != trade.response_body:  # not already written with the trade
            trade.response_body = body
            Trade.objects.filter(pk=trade.pk).update(response_body=body)


def _settles_unsaved(trade_type: str, method) -> bool:
    """Whether the trade is completed by its posting within the request
    without anything needing its row first (see _create)."""
    if trade_type == TradeType.SELL:
        return getattr(method, "payout_clearing_kind", None) is None
    return getattr(method, "settles_unsaved_trade", False)


def _open_trade(
    *,
    trade_type: str,
    user,
    crypto_currency: str,
    fiat_currency: str,
    amount: Decimal,
    payment_method: str,
    payment_details: dict | None,
    quote_id,
    idempotency_key: str | None,
    start,
) -> Trade:
    """The common path of buy and sell. ``start(trade, method, details,
    priced)`` does the money part inside the same transaction. Nothing opens
    for an account whose email is not verified (403 email_not_verified)."""
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
            trade = _create(
                user=user,
                priced=priced,
                details=details,
                quote=quote,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                defer=_settles_unsaved(trade_type, method),
            )
            start(trade, method, details, priced)
            if trade.pk is None:
                # The method did not complete it after all: write it pending.
                trade.save(force_insert=True)
            if "_unrecorded_creation" in trade.__dict__:
                _record_creation(trade)
            _store_response(trade)
            trade.replayed = False
            return trade
    except IntegrityError:
        # Lost the race for this Idempotency-Key: the winner has committed.
        if idempotency_key:
            replay = _replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint)
            if replay is not None:
                return replay
        raise


# --- buy -----------------------------------------------------------------------


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
    reserve covers it, create the trade ``pending`` and hand it to the payment
    method's ``start_buy`` — which settles at once (balance, crypto, voucher)
    or starts an outside payment. One database transaction: if anything
    fails, no trade, no ledger row, no quote use remains.

    ``trade.replayed`` is True when an Idempotency-Key replay returned the
    first request's trade (``trade.response_body`` is its first response)."""

    def start(trade: Trade, method, details: dict, priced: PricedTrade) -> None:
        if not getattr(method, "settles_at_once", False):
            # An outside payment must not be requested for a buy the reserve
            # can't deliver. (A method settling at once posts right away, and
            # the posting itself refuses an uncovered reserve, writing nothing.)
            reserve_covers(trade.crypto_currency, trade.crypto_amount)
        instructions = method.start_buy(trade=trade, details=details) or {}
        if instructions:
            trade.instructions = instructions
            Trade.objects.filter(pk=trade.pk).update(instructions=instructions)

    return _open_trade(
        trade_type=TradeType.BUY,
        user=user,
        crypto_currency=crypto_currency,
        fiat_currency=fiat_currency,
        amount=amount,
        payment_method=payment_method,
        payment_details=payment_details,
        quote_id=quote_id,
        idempotency_key=idempotency_key,
        start=start,
    )


# --- sell ----------------------------------------------------------------------


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

    def start(trade: Trade, method, details: dict, priced: PricedTrade) -> None:
        fiat, crypto = trade.fiat_currency, trade.crypto_currency
        clearing_kind = getattr(method, "payout_clearing_kind", None)
        # No reserve pre-check: the posting below refuses an uncovered
        # reserve before writing anything, and it comes before any payout.
        wallet, reserve_crypto, reserve_fiat, fees, payee = trade_accounts(
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
            complete_with_posting(trade, actor=actor_for(user), posting=posting)
            return
        Trade.objects.filter(pk=trade.pk).update(ledger_transaction_id=posting["key"])
        trade.ledger_transaction = trade_post(**posting)
        instructions = method.start_sell(trade=trade, details=details) or {}
        if instructions:
            trade.instructions = instructions
            Trade.objects.filter(pk=trade.pk).update(instructions=instructions)

    return _open_trade(
        trade_type=TradeType.SELL,
        user=user,
        crypto_currency=crypto_currency,
        fiat_currency=fiat_currency,
        amount=amount,
        payment_method=payment_method,
        payment_details=payment_details,
        quote_id=quote_id,
        idempotency_key=idempotency_key,
        start=start,
    )
