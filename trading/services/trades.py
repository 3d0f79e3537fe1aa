"""Trades: buy, sell, settle, fail, expire, cancel (DESIGN 4; TEAM.md
contract "Trades (owner: trading)").

Rules every function here keeps:
* A trade row is locked (``SELECT … FOR UPDATE``) before the ledger accounts
  (which ``ledger_post`` locks in pk order): one lock order, no deadlocks.
* Status changes are compare-and-set (``_transition``): the UPDATE names the
  status it expects and the caller acts only when it changed one row.
* Every change is recorded (TradeStatusChange) and emitted as
  ``trade.updated`` (plus ``activity`` on completion) in the same transaction.
* Ledger postings carry an idempotency key derived from the trade, so a
  retried settlement never posts twice.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from dtexchange.errors import Conflict, InvalidInput, NotFound
from notifications.services import outbox_emit, outbox_emit_many
from trading import payment_methods
from trading.errors import IdempotencyKeyReused, InsufficientBalance
from trading.models.ledger import AccountKind, LedgerAccount, LedgerTransaction
from trading.models.trades import ACTIVE_STATUSES, Trade, TradeStatus, TradeStatusChange, TradeType
from trading.money import fmt, quantize
from trading.selectors.trades import trade_as_dict
from trading.services.ledger import fast_sql_enabled, house_account, ledger_post, wallet_account
from trading.services.pricing import buy_amounts
from trading.services.quotes import PricedTrade, quote_use, trade_price
from trading.services.trade_writes import trade_insert_settled

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


def _actor_for(user) -> str:
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


def _record(trade: Trade, *, previous: str, actor: str, reason: str) -> None:
    changes, events = _history_and_events(trade, previous=previous, actor=actor, reason=reason)
    TradeStatusChange.objects.bulk_create(changes)
    # Both events of a completion in one INSERT.
    outbox_emit_many(events=events)


def _transition(
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
    _record(trade, previous=previous, actor=actor, reason=reason)
    return True


def _lock(trade_id: int) -> Trade:
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


def _accounts(*specs: tuple) -> list[LedgerAccount]:
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


def _complete_with_posting(
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
        _record(trade, previous=previous, actor=actor, reason=reason)
    txn = _post(**posting)
    trade.ledger_transaction = txn
    return trade


def _post(*, kind: str, key: str, entries: list[tuple[LedgerAccount, Decimal]], **kw):
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


def _reserve_covers(currency: str, amount: Decimal) -> None:
    """Before anything is charged. Unlocked read: the posting re-checks under
    the lock; this only turns the common case into a clean 409 early."""
    reserve = house_account(kind=AccountKind.RESERVE, currency=currency)
    if reserve.balance < amount:
        raise InsufficientLiquidity(details={"currency": currency})


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


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 128 or not key.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1 to 128 printable characters.",
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
    written completed, with its posting (_complete_with_posting), and a
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
    # method settles at once, else as "created" (see _record).
    trade._unrecorded_creation = _actor_for(user)
    return trade


def _record_creation(trade: Trade) -> None:
    """The method left the trade pending, or moved it through another
    instance (e.g. ``trade_settle_buy(trade_id=...)``, which re-reads the
    row). In the second case only the history row is added: an event saying
    "pending" after the one saying "completed" would turn a live page back."""
    current = Trade.objects.filter(pk=trade.pk).values_list("status", flat=True).get()
    if current == trade.status:
        _record(trade, previous="", actor=trade._unrecorded_creation, reason="created")
        return
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
    priced)`` does the money part inside the same transaction."""
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
            _reserve_covers(trade.crypto_currency, trade.crypto_amount)
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


@transaction.atomic
def trade_settle_buy(
    *,
    trade_id: int,
    funding_account: LedgerAccount,
    amount_received: Decimal | None = None,
    actor: str,
    reason: str = "",
) -> Trade:
    """Complete a pending/processing buy with ONE ledger posting: funding
    -received; fee revenue +fee; reserve(fiat) +net; reserve(crypto) -crypto;
    the user's crypto wallet +crypto.

    Locks the trade. ``amount_received`` other than the trade's fiat amount
    re-prices the trade at its own rate and fee rate. Idempotent: an already
    completed trade is returned unchanged. Expired, failed or cancelled:
    TradeNotSettleable (409). The reserve can't cover: InsufficientLiquidity."""
    return trade_settle_buy_held(
        trade=_lock(trade_id),
        funding_account=funding_account,
        amount_received=amount_received,
        actor=actor,
        reason=reason,
    )


def trade_settle_buy_held(
    *,
    trade: Trade,
    funding_account: LedgerAccount | None,
    amount_received: Decimal | None = None,
    actor: str,
    reason: str = "",
) -> Trade:
    """trade_settle_buy for a caller that already holds the trade row (locked
    it, or created it in this transaction). ``funding_account`` None: the
    user's own fiat wallet (the ``balance`` method)."""
    if trade.status == TradeStatus.COMPLETED:
        return trade
    if trade.status not in ACTIVE_STATUSES or trade.trade_type != TradeType.BUY:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    fiat, crypto = trade.fiat_currency, trade.crypto_currency
    if funding_account is not None and funding_account.currency != fiat:
        raise InvalidInput(
            f"The funding account must be in {fiat}.", code="funding_currency_mismatch"
        )
    fields: dict = {}
    if amount_received is not None and amount_received != trade.fiat_amount:
        a = buy_amounts(
            amount=amount_received,
            fee_rate=trade.fee_rate,
            price=trade.exchange_rate,
            crypto=crypto,
            fiat=fiat,
        )
        fields = {
            "fiat_amount": a.fiat_amount,
            "fee_amount": a.fee_amount,
            "crypto_amount": a.crypto_amount,
        }
        for name, value in fields.items():
            setattr(trade, name, value)
    fiat_amount = quantize(trade.fiat_amount, fiat)
    fee = quantize(trade.fee_amount, fiat)
    crypto_amount = quantize(trade.crypto_amount, crypto)
    user = trade.user
    specs = [
        (None, AccountKind.FEE_REVENUE, fiat),
        (None, AccountKind.RESERVE, fiat),
        (None, AccountKind.RESERVE, crypto),
        (user, AccountKind.USER_WALLET, crypto),
    ]
    if funding_account is None:
        specs.append((user, AccountKind.USER_WALLET, fiat))
    accounts = _accounts(*specs)
    fees, reserve_fiat, reserve_crypto, wallet = accounts[:4]
    funding = funding_account or accounts[4]
    return _complete_with_posting(
        trade,
        actor=actor,
        reason=reason,
        fields=fields,
        posting={
            "kind": "trade",
            "key": f"trade:{trade.public_id}:settle",
            "entries": [
                (funding, -fiat_amount),
                (fees, fee),
                (reserve_fiat, fiat_amount - fee),
                (reserve_crypto, -crypto_amount),
                (wallet, crypto_amount),
            ],
            "description": f"Buy {crypto_amount} {crypto} for {fmt(fiat_amount, fiat)}",
            "actor": actor,
            "reference": trade.reference,
        },
    )


def trade_settle_swap(*, trade: Trade, actor: str) -> Trade:
    """Complete a buy paid with another coin of the user's (the caller holds
    the trade): one posting through the reserves: wallet(from) -spent; fee
    revenue(from) +fee; reserve(from) +net; reserve(crypto) -crypto;
    wallet(crypto) +crypto."""
    if trade.status == TradeStatus.COMPLETED:
        return trade
    if trade.status not in ACTIVE_STATUSES or trade.trade_type != TradeType.BUY:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    d = trade.payment_details
    src, crypto = d["from_currency"], trade.crypto_currency
    spent, fee, net = Decimal(d["from_amount"]), Decimal(d["from_fee"]), Decimal(d["from_net"])
    crypto_amount = quantize(trade.crypto_amount, crypto)
    user = trade.user
    paying, fees, reserve_src, reserve_crypto, wallet = _accounts(
        (user, AccountKind.USER_WALLET, src),
        (None, AccountKind.FEE_REVENUE, src),
        (None, AccountKind.RESERVE, src),
        (None, AccountKind.RESERVE, crypto),
        (user, AccountKind.USER_WALLET, crypto),
    )
    return _complete_with_posting(
        trade,
        actor=actor,
        posting={
            "kind": "trade",
            "key": f"trade:{trade.public_id}:settle",
            "entries": [
                (paying, -spent),
                (fees, fee),
                (reserve_src, net),
                (reserve_crypto, -crypto_amount),
                (wallet, crypto_amount),
            ],
            "description": f"Swap {spent} {src} for {crypto_amount} {crypto}",
            "actor": actor,
            "reference": trade.reference,
        },
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
        wallet, reserve_crypto, reserve_fiat, fees, payee = _accounts(
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
            "actor": _actor_for(user),
            "reference": trade.reference,
        }
        if clearing_kind is None:
            _complete_with_posting(trade, actor=_actor_for(user), posting=posting)
            return
        Trade.objects.filter(pk=trade.pk).update(ledger_transaction_id=posting["key"])
        trade.ledger_transaction = _post(**posting)
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


def _clearing_account(trade: Trade) -> LedgerAccount:
    method = payment_methods.get(trade.payment_method)
    kind = getattr(method, "payout_clearing_kind", None)
    if kind is None:
        raise TradeNotSettleable(
            "This sale was paid to the wallet; it has no payout.",
            details={"trade_id": str(trade.public_id)},
        )
    return house_account(kind=kind, currency=trade.fiat_currency)


def _require_payout_sell(trade: Trade) -> None:
    if trade.trade_type != TradeType.SELL or trade.ledger_transaction_id is None:
        raise TradeNotSettleable(
            "Not a sale with a payout in progress.",
            details={"trade_id": str(trade.public_id), "status": trade.status},
        )


@transaction.atomic
def trade_complete_payout(*, trade_id: int, actor: str) -> Trade:
    """The method's payout of a sell succeeded. Idempotent (completed →
    unchanged). The clearing account keeps the net until the method's own
    reconciliation books the money that left."""
    trade = _lock(trade_id)
    if trade.status == TradeStatus.COMPLETED:
        return trade
    _require_payout_sell(trade)
    if trade.status not in ACTIVE_STATUSES:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    _transition(trade, to=TradeStatus.COMPLETED, actor=actor, reason="payout succeeded")
    return trade


@transaction.atomic
def trade_refund_failed_payout(*, trade_id: int, reason: str, actor: str) -> Trade:
    """The payout of a sell failed: clearing -net → the user's fiat wallet
    +net (one posting, keyed on the trade), trade ``failed`` ("Failed —
    refunded to your wallet"). Idempotent: a refunded trade is returned."""
    trade = _lock(trade_id)
    if trade.status == TradeStatus.FAILED and trade.refund_transaction_id:
        return trade
    _require_payout_sell(trade)
    if trade.status not in ACTIVE_STATUSES:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    fiat = trade.fiat_currency
    net = quantize(trade.fiat_amount - trade.fee_amount, fiat)
    txn = _post(
        kind="payout_refund",
        key=f"trade:{trade.public_id}:refund",
        entries=[
            (_clearing_account(trade), -net),
            (wallet_account(user=trade.user, currency=fiat), net),
        ],
        description=f"Refund of failed payout {trade.reference}: {fmt(net, fiat)}",
        actor=actor,
        reference=trade.reference,
    )
    _transition(
        trade,
        to=TradeStatus.FAILED,
        actor=actor,
        reason=reason,
        label=REFUNDED_LABEL,
        refund_transaction=txn,
    )
    return trade


# --- other state changes ---------------------------------------------------------


@transaction.atomic
def trade_fail(*, trade_id: int, reason: str, actor: str) -> Trade:
    """A buy whose payment failed → ``failed`` (nothing was charged).
    Idempotent on an already failed trade. A sale whose crypto already left
    must be made good with trade_refund_failed_payout instead (409)."""
    trade = _lock(trade_id)
    if trade.status == TradeStatus.FAILED:
        return trade
    if trade.status not in ACTIVE_STATUSES:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    if trade.ledger_transaction_id is not None:
        raise TradeNotSettleable(
            "Value already moved for this trade; refund it instead of failing it.",
            details={"trade_id": str(trade.public_id)},
        )
    _transition(trade, to=TradeStatus.FAILED, actor=actor, reason=reason)
    return trade


@transaction.atomic
def trade_expire(*, trade_id: int) -> Trade | None:
    """Expire a pending/processing trade on which no value moved; None when
    it was not expirable (already settled, failed, ... or a sale in payout)."""
    trade = _lock(trade_id)
    if trade.status not in ACTIVE_STATUSES or trade.ledger_transaction_id is not None:
        return None
    if not _transition(trade, to=TradeStatus.EXPIRED, actor="system:expiry", reason="expired"):
        return None
    return trade


@transaction.atomic
def trade_mark_processing(*, trade_id: int, actor: str) -> Trade:
    """pending → processing (the payment is under way). Idempotent."""
    trade = _lock(trade_id)
    if trade.status == TradeStatus.PROCESSING:
        return trade
    if trade.status != TradeStatus.PENDING:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    _transition(trade, to=TradeStatus.PROCESSING, actor=actor)
    return trade


@transaction.atomic
def trade_cancel(*, trade: Trade, user) -> Trade:
    """The owner cancels a pending trade on which no value moved yet. The
    caller found ``trade`` through the user (another user's trade is a 404)."""
    trade = _lock(trade.pk)
    if trade.user_id != user.pk:
        raise InvalidInput("Not your trade.", code="trade_not_found")
    if trade.status != TradeStatus.PENDING or trade.ledger_transaction_id is not None:
        raise TradeNotCancellable(details={"status": trade.status})
    if not _transition(trade, to=TradeStatus.CANCELLED, actor=_actor_for(user), reason="cancelled"):
        raise TradeNotCancellable(details={"status": trade.status})
    return trade


# --- fiat wallet -------------------------------------------------------------------


@transaction.atomic
def fiat_wallet_credit(
    *,
    user,
    currency: str,
    amount: Decimal,
    funding_account: LedgerAccount,
    idempotency_key: str,
    reason: str,
    payment_method: str = "",
    payment_reference: str = "",
) -> LedgerTransaction:
    """Credit money that arrived (e.g. a mobile-money payment whose trade had
    expired) to the user's fiat wallet: funding -amount, wallet +amount.
    Idempotent on ``idempotency_key`` (the ledger's). The user is told once,
    live and by the late-payment email."""
    amount = quantize(amount, currency)
    if amount <= 0:
        raise InvalidInput("The amount must be positive.", code="invalid_amount")
    txn = _post(
        kind="wallet_credit",
        key=idempotency_key,
        entries=[
            (funding_account, -amount),
            (wallet_account(user=user, currency=currency), amount),
        ],
        description=reason,
        actor="system",
        reference=idempotency_key[:64],
    )
    if not getattr(txn, "replayed", False):
        outbox_emit(
            kind="notification",
            user_id=user.pk,
            payload={
                "title": "Money added to your wallet",
                "body": f"{fmt(amount, currency)} was added to your wallet. {reason}".strip(),
                "level": "success",
                "late_payment": True,
                "amount": str(amount),
                "currency": currency,
                "payment_method": payment_method,
                "reference": payment_reference,
                "at": txn.created_at.isoformat(),
            },
        )
    return txn
