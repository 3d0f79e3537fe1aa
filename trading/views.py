"""Customer site pages of trading (server-rendered; owner: site).

Thin adapters: each view parses a form, calls trading's services/selectors and
renders. Forms work without JavaScript (static/js enhances them). Each page
runs a fixed number of queries whatever the length of the user's history.
"""

import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import verified_required
from dtexchange.errors import DomainError, NotFound
from dtexchange.forms import form_errors_place
from ledger.money import CRYPTO_CODES, CURRENCIES, FIAT_CODES, currency, quantize
from ledger.selectors import balances_for_user
from switches.selectors import account_freeze_active
from trading import payment_methods
from trading.forms import HistoryFilterForm, TradeForm
from trading.models.trades import TradeStatus
from trading.selectors.site import activity_recent, trade_history_for_user
from trading.selectors.trades import trade_get_for_user
from trading.services.prices import prices_get_all
from trading.services.quotes import QuoteExpired, quote_create
from trading.services.trades import trade_buy, trade_cancel, trade_sell

FIAT_PREF_KEY = "display_fiat"
HISTORY_PAGE_SIZE = 20
DASHBOARD_RECENT = 5


def _prices() -> dict[tuple[str, str], Decimal]:
    """(crypto, fiat) -> price from the cached snapshot (no database query).
    Empty when prices are unavailable: pages then show dashes, not an error."""
    try:
        return {pair: p.price for pair, p in prices_get_all(allow_stale=True).items()}
    except DomainError:
        return {}


def _display_fiat(request) -> str:
    asked = request.GET.get("fiat", "").upper()
    if asked in FIAT_CODES:
        request.session[FIAT_PREF_KEY] = asked
        return asked
    return request.session.get(FIAT_PREF_KEY, "UGX")


def _value_in(amount: Decimal, code: str, fiat: str, prices) -> Decimal | None:
    """Indicative value of a balance in ``fiat`` at the current price (display
    only; trades are priced by the trading services)."""
    if code == fiat:
        return amount
    if currency(code).is_crypto:
        price = prices.get((code, fiat))
        return None if price is None else quantize(amount * price, fiat)
    # Fiat to fiat through any coin quoted in both (the snapshot's implied rate).
    for coin in CRYPTO_CODES:
        there, here = prices.get((coin, fiat)), prices.get((coin, code))
        if there and here:
            return quantize(amount * there / here, fiat)
    return None


# --- Landing ----------------------------------------------------------------


def landing(request):
    snapshot = {}
    try:
        snapshot = prices_get_all(allow_stale=True)
    except DomainError:
        snapshot = {}
    rows = []
    for code in CRYPTO_CODES:
        usd, ugx = snapshot.get((code, "USD")), snapshot.get((code, "UGX"))
        rows.append(
            {
                "code": code,
                "name": currency(code).name,
                "usd": usd.price if usd else None,
                "ugx": ugx.price if ugx else None,
                "change": usd.change if usd else None,
            }
        )
    times = [p.at for p in snapshot.values()]
    activity = activity_recent(limit=10)
    for item in activity:
        item["at"] = parse_datetime(item.get("at") or "")
    return render(
        request,
        "landing.html",
        {"price_rows": rows, "prices_at": max(times) if times else None, "activity": activity},
    )


# --- Dashboard --------------------------------------------------------------


@verified_required
def dashboard(request):
    fiat = _display_fiat(request)
    prices = _prices()
    balances = balances_for_user(user=request.user)
    rows, total, complete = [], Decimal(0), True
    for code in (*FIAT_CODES, *CRYPTO_CODES):
        amount = balances.get(code, Decimal(0))
        value = _value_in(amount, code, fiat, prices)
        if value is None:
            complete = False
        else:
            total += value
        rows.append(
            {
                "code": code,
                "name": CURRENCIES[code].name,
                "amount": amount,
                "value": value,
                "is_crypto": CURRENCIES[code].is_crypto,
            }
        )
    recent = list(trade_history_for_user(user=request.user)[:DASHBOARD_RECENT])
    return render(
        request,
        "trading/dashboard.html",
        {
            "fiat": fiat,
            "fiats": FIAT_CODES,
            "balances": rows,
            "total": total if complete else None,
            "recent": recent,
            "frozen": account_freeze_active(user_id=request.user.pk),
        },
    )


# --- Trade ------------------------------------------------------------------


def _methods_for_page() -> list[dict]:
    return payment_methods.describe_all()


def _trade_service(trade_type: str):
    return trade_sell if trade_type == "sell" else trade_buy


PAYOUT_UNCONFIRMED = "payout_number_unconfirmed"
# The payment methods name the phone field in their own words.
PHONE_ALIASES = {"phone": "phone_number", "msisdn": "phone_number"}


def _payout_choices(user) -> list[tuple[str, str]]:
    """The seller's confirmed payout numbers (masked) for the mobile-money sale."""
    try:
        method = payment_methods.get("mobile_money")
    except DomainError:
        return []
    return [(d["id"], d["label"]) for d in method.payout_destinations(user=user)]


def _payment_details(request, form: TradeForm) -> dict | None:
    """The form's payment details; for a sale to a saved payout number, the
    number it names (None, with the error on the form, when it is no longer
    a confirmed one of the user's)."""
    destination = form.payout_to()
    if not destination:
        return form.payment_details()
    method = payment_methods.get(form.cleaned_data["payment_method"])
    details = method.payout_destination_details(user=request.user, destination_id=destination)
    if details is None:
        form.add_error(
            "payout_number", form.fields["payout_number"].error_messages["invalid_choice"]
        )
    return details


@verified_required
@require_http_methods(["GET", "POST"])
def trade(request):
    """Step 1 (GET, or POST step=edit): the form. Step 2 (POST step=review):
    a quote to confirm, with its countdown. Step 3 (POST step=confirm): the
    trade, then its own page."""
    step = request.POST.get("step", "edit") if request.method == "POST" else "edit"
    initial = {k: v for k, v in request.GET.items() if k in TradeForm.base_fields}
    choices = _payout_choices(request.user)
    form = TradeForm(
        request.POST if step in ("review", "confirm") else None,
        initial=initial,
        payout_choices=choices,
    )
    if request.method == "POST" and step == "edit":
        form = TradeForm(initial=request.POST.dict(), payout_choices=choices)
    context = {"form": form, "methods": _methods_for_page(), "quote": None}

    details = (
        _payment_details(request, form)
        if step in ("review", "confirm") and form.is_valid()
        else None
    )
    if details is not None:
        data = form.cleaned_data
        args = {
            "crypto_currency": data["crypto_currency"],
            "fiat_currency": data["fiat_currency"],
            "amount": data["amount"],
            "payment_method": data["payment_method"],
            "payment_details": details,
        }
        if step == "confirm" and data.get("quote_id"):
            try:
                trade = _trade_service(data["trade_type"])(
                    user=request.user,
                    quote_id=data["quote_id"],
                    idempotency_key=data.get("idempotency_key") or None,
                    **args,
                )
            except QuoteExpired:
                messages.info(
                    request, "The price moved on while you were deciding. Here is the new one."
                )
                step = "review"
            except DomainError as exc:
                form_errors_place(form, exc, aliases=PHONE_ALIASES)
                if exc.code == PAYOUT_UNCONFIRMED:
                    # Said with the way out: the settings page adds and confirms it.
                    context["payout_unconfirmed"] = exc.details.get("phone_number") or True
                    return render(request, "trading/trade.html", context, status=409)
                return render(request, "trading/trade.html", context, status=400)
            else:
                return redirect("trade_detail", trade_id=trade.public_id)
        try:
            quote = quote_create(user=request.user, trade_type=data["trade_type"], **args)
        except DomainError as exc:
            form_errors_place(form, exc, aliases=PHONE_ALIASES)
            return render(request, "trading/trade.html", context, status=400)
        method = payment_methods.get(data["payment_method"])
        context.update(
            quote=quote,
            net=quote.fiat_amount - quote.fee_amount,
            method=method,
            details=details,
            # Screens show a saved payout number masked, as chosen.
            pay_to=dict(choices).get(form.payout_to()) or details.get("phone_number", ""),
            idempotency_key=uuid.uuid4().hex,
            amount_currency=data["fiat_currency"]
            if data["trade_type"] == "buy"
            else data["crypto_currency"],
        )
        return render(request, "trading/trade_confirm.html", context)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "trading/trade.html", context, status=status)


# --- History and one trade --------------------------------------------------


@login_required
def history(request):
    form = HistoryFilterForm(request.GET or None)
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {
            k: form.cleaned_data.get(k) or ""
            for k in ("status", "trade_type", "crypto_currency", "payment_method")
        }
    qs = trade_history_for_user(user=request.user, **filters)
    # Newer/Older pages without a COUNT(*): one query of a page plus one row,
    # whatever the length of the history.
    number = (form.cleaned_data.get("page") if form.is_bound and form.is_valid() else None) or 1
    start = (number - 1) * HISTORY_PAGE_SIZE
    rows = list(qs[start : start + HISTORY_PAGE_SIZE + 1])
    page = {
        "object_list": rows[:HISTORY_PAGE_SIZE],
        "number": number,
        "has_previous": number > 1,
        "previous_page_number": number - 1,
        "has_next": len(rows) > HISTORY_PAGE_SIZE,
        "next_page_number": number + 1,
    }
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "trading/history.html",
        {"form": form, "page": page, "query": query.urlencode(), "filtered": any(filters.values())},
    )


def _own_trade(request, trade_id):
    try:
        return trade_get_for_user(user=request.user, trade_id=str(trade_id))
    except NotFound:
        raise Http404("Trade not found") from None


@login_required
def trade_detail(request, trade_id):
    trade = _own_trade(request, trade_id)
    changes = list(trade.status_changes.all())
    method = _method_or_none(trade.payment_method)
    return render(
        request,
        "trading/trade_detail.html",
        {
            "trade": trade,
            "changes": changes,
            "method": method,
            "progress": method.progress(trade=trade) if method else {},
            "active": trade.status in (TradeStatus.PENDING, TradeStatus.PROCESSING),
            "amount_paid_currency": trade.fiat_currency,
        },
    )


def _method_or_none(code: str):
    try:
        return payment_methods.get(code)
    except DomainError:
        return None


@verified_required
@require_POST
def trade_cancel_view(request, trade_id):
    trade = _own_trade(request, trade_id)
    try:
        trade_cancel(trade=trade, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The trade is cancelled. Nothing was charged.")
    return redirect("trade_detail", trade_id=trade.public_id)
