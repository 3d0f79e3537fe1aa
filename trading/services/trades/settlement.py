"""Settling a buy with one ledger posting: paid in fiat (a method's funding
account or the user's wallet) or with another coin (a swap)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from dtexchange.errors import InvalidInput
from ledger.models import AccountKind, LedgerAccount
from ledger.money import fmt, quantize
from ledger.services import accounts_get_or_create
from trading.errors import TradeNotSettleable
from trading.models.trades import ACTIVE_STATUSES, Trade, TradeStatus, TradeType
from trading.services.pricing import buy_amounts
from trading.services.trades.common import Settlement, complete_with_posting, trade_lock


@transaction.atomic
def trade_settle_buy(
    *,
    trade_id: int,
    funding_account: LedgerAccount,
    amount_received: Decimal | None = None,
    price: Decimal | None = None,
    actor: str,
    reason: str = "",
) -> Trade:
    """Complete a pending/processing buy with ONE ledger posting: funding
    -received; fee revenue +fee; reserve(fiat) +net; reserve(crypto) -crypto;
    the user's crypto wallet +crypto.

    Locks the trade. ``amount_received`` other than the trade's fiat amount
    re-prices the trade at its own fee rate, and at ``price`` when given
    (the trade's rate becomes that price), else at its own rate. Idempotent: an already
    completed trade is returned unchanged. Expired, failed or cancelled:
    TradeNotSettleable (409). The reserve can't cover: InsufficientLiquidity."""
    trade = trade_lock(trade_id)
    if trade.status == TradeStatus.COMPLETED:
        return trade
    return complete_with_posting(
        trade,
        settlement=buy_settlement(
            trade=trade,
            funding_account=funding_account,
            amount_received=amount_received,
            price=price,
            actor=actor,
            reason=reason,
        ),
    )


def buy_settlement(
    *,
    trade: Trade,
    funding_account: LedgerAccount | None,
    amount_received: Decimal | None = None,
    price: Decimal | None = None,
    actor: str,
    reason: str = "",
) -> Settlement:
    """The completion of an active buy (not written): the re-priced amounts
    if ``amount_received`` or ``price`` differ, and its posting: funding
    -received; fee revenue +fee; reserve(fiat) +net; reserve(crypto) -crypto;
    the user's crypto wallet +crypto. ``funding_account`` None: the user's
    own fiat wallet (the ``balance`` method). The trade instance keeps its
    amounts: ``Settlement.fields`` carries the new ones."""
    if trade.status not in ACTIVE_STATUSES or trade.trade_type != TradeType.BUY:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    fiat, crypto = trade.fiat_currency, trade.crypto_currency
    if funding_account is not None and funding_account.currency != fiat:
        raise InvalidInput(
            f"The funding account must be in {fiat}.", code="funding_currency_mismatch"
        )
    fields: dict = {}
    received = trade.fiat_amount if amount_received is None else amount_received
    if received != trade.fiat_amount or (price is not None and price != trade.exchange_rate):
        a = buy_amounts(
            amount=received,
            fee_rate=trade.fee_rate,
            price=trade.exchange_rate if price is None else price,
            crypto=crypto,
            fiat=fiat,
        )
        fields = {
            "fiat_amount": a.fiat_amount,
            "fee_amount": a.fee_amount,
            "crypto_amount": a.crypto_amount,
        }
        if price is not None:
            fields["exchange_rate"] = a.exchange_rate
    fiat_amount = quantize(fields.get("fiat_amount", trade.fiat_amount), fiat)
    fee = quantize(fields.get("fee_amount", trade.fee_amount), fiat)
    crypto_amount = quantize(fields.get("crypto_amount", trade.crypto_amount), crypto)
    user = trade.user
    specs = [
        (None, AccountKind.FEE_REVENUE, fiat),
        (None, AccountKind.RESERVE, fiat),
        (None, AccountKind.RESERVE, crypto),
        (user, AccountKind.USER_WALLET, crypto),
    ]
    if funding_account is None:
        specs.append((user, AccountKind.USER_WALLET, fiat))
    accounts = accounts_get_or_create(*specs)
    fees, reserve_fiat, reserve_crypto, wallet = accounts[:4]
    funding = funding_account or accounts[4]
    return Settlement(
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


def swap_settlement(*, trade: Trade, actor: str) -> Settlement:
    """The completion of a buy paid with another coin of the user's (not
    written): one posting through the reserves: wallet(from) -spent; fee
    revenue(from) +fee; reserve(from) +net; reserve(crypto) -crypto;
    wallet(crypto) +crypto."""
    if trade.status not in ACTIVE_STATUSES or trade.trade_type != TradeType.BUY:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    d = trade.payment_details
    src, crypto = d["from_currency"], trade.crypto_currency
    spent, fee, net = Decimal(d["from_amount"]), Decimal(d["from_fee"]), Decimal(d["from_net"])
    crypto_amount = quantize(trade.crypto_amount, crypto)
    user = trade.user
    paying, fees, reserve_src, reserve_crypto, wallet = accounts_get_or_create(
        (user, AccountKind.USER_WALLET, src),
        (None, AccountKind.FEE_REVENUE, src),
        (None, AccountKind.RESERVE, src),
        (None, AccountKind.RESERVE, crypto),
        (user, AccountKind.USER_WALLET, crypto),
    )
    return Settlement(
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
