"""The trading API (DESIGN 5): thin views over trading's services/selectors.

Serializers check shape only (types, required fields, digits); the services
check meaning (currencies, precision per currency, limits, balances) so the
API, the site and the admin share one set of rules.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsVerified
from dtexchange.errors import InvalidInput
from dtexchange.schema import error_responses
from ledger.money import CRYPTO_CODES, CURRENCIES, DECIMAL_PLACES, FIAT_CODES, MAX_DIGITS, currency
from ledger.selectors import balances_for_user
from trading import payment_methods
from trading.models.trades import TradeStatus
from trading.selectors.quotes import quote_as_dict
from trading.selectors.trades import trade_as_dict, trade_get_for_user, trade_list_for_user
from trading.services.prices import price_get, prices_get_all
from trading.services.quotes import quote_create
from trading.services.trades import trade_buy, trade_cancel, trade_sell
from trading.throttles import AnonCalculateThrottle, TradingThrottle

# Trading and reading one's trades need a verified email (403
# email_not_verified; 401 when not signed in).
TRADING_PERMISSIONS = [IsVerified]

# Trading writes are throttled too (429).
_ERRORS = error_responses(400, 401, 403, 409, 429)


def _amount_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, coerce_to_string=True, **kwargs
    )


def _code_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=8, **kwargs)


class TradeOutput(serializers.Serializer):
    """One trade; amounts are decimal strings at their currency's precision."""

    id = serializers.UUIDField()
    reference = serializers.CharField()
    trade_type = serializers.ChoiceField(choices=["buy", "sell"])
    status = serializers.ChoiceField(choices=TradeStatus.choices)
    status_label = serializers.CharField()
    crypto_currency = serializers.CharField()
    fiat_currency = serializers.CharField()
    crypto_amount = serializers.CharField(help_text="decimal string")
    fiat_amount = serializers.CharField(help_text="buy: paid incl. fee; sell: gross")
    fee_amount = serializers.CharField(help_text="decimal string, in fiat_currency")
    net_amount = serializers.CharField(help_text="fiat_amount - fee_amount")
    fee_rate = serializers.CharField()
    exchange_rate = serializers.CharField(help_text="fiat per unit of crypto")
    payment_method = serializers.CharField()
    payment_details = serializers.DictField()
    instructions = serializers.DictField()
    quote_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        # ``instance`` is already the JSON-safe dict of trade_as_dict (or a
        # stored first response): pass it through untouched.
        return dict(instance)


class PricesApi(APIView):
    permission_classes = [AllowAny]

    class Input(serializers.Serializer):
        crypto = _code_field(required=False)
        fiat = _code_field(required=False)

    class PriceOutput(serializers.Serializer):
        crypto = serializers.CharField()
        fiat = serializers.CharField()
        price = serializers.CharField(help_text="fiat per unit of crypto, decimal string")
        change = serializers.CharField(help_text="percent change since the previous refresh")
        source = serializers.CharField(help_text='"simulated" or the price API used')
        updated_at = serializers.DateTimeField()
        stale = serializers.BooleanField(help_text="older than PRICE_MAX_AGE: no trading")

    @staticmethod
    def _row(p) -> dict:
        return {
            "crypto": p.crypto,
            "fiat": p.fiat,
            "price": format(p.price.normalize(), "f"),
            "change": str(p.change),
            "source": p.source,
            "updated_at": p.at.isoformat(),
            "stale": p.is_stale(),
        }

    @extend_schema(
        summary="Current prices",
        description="With crypto and fiat: one price. Without: every pair (filtered by "
        "whichever is given), as {prices: [...]}.",
        parameters=[
            OpenApiParameter("crypto", str, description="BTC, ETH, SOL or TRX"),
            OpenApiParameter("fiat", str, description="USD or UGX"),
        ],
        responses={200: PriceOutput, **error_responses(400)},
    )
    def get(self, request):
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        crypto = params.validated_data.get("crypto", "").upper()
        fiat = params.validated_data.get("fiat", "").upper()
        if crypto and fiat:
            return Response(self._row(price_get(crypto=crypto, fiat=fiat, allow_stale=True)))
        for name, value, allowed in (("crypto", crypto, CRYPTO_CODES), ("fiat", fiat, FIAT_CODES)):
            if value and value not in allowed:
                raise InvalidInput(
                    f"{name} must be one of {', '.join(allowed)}.",
                    code="unknown_currency",
                    details={name: [f"One of {', '.join(allowed)}."]},
                )
        rows = [
            self._row(p)
            for (c, f), p in sorted(prices_get_all().items())
            if (not crypto or c == crypto) and (not fiat or f == fiat)
        ]
        return Response({"prices": rows})


class CalculateApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [TradingThrottle, AnonCalculateThrottle]

    class Input(serializers.Serializer):
        crypto_currency = _code_field()
        fiat_currency = _code_field()
        amount = _amount_field(
            help_text="buy: fiat paid incl. fee; sell: crypto sold; crypto method: "
            "amount of payment_details.from_currency spent"
        )
        trade_type = serializers.ChoiceField(choices=["buy", "sell"])
        payment_method = serializers.CharField(max_length=32)
        payment_details = serializers.DictField(required=False, default=dict)

    class QuoteOutput(serializers.Serializer):
        quote_id = serializers.UUIDField()
        trade_type = serializers.CharField()
        crypto_currency = serializers.CharField()
        fiat_currency = serializers.CharField()
        payment_method = serializers.CharField()
        amount = serializers.CharField()
        crypto_amount = serializers.CharField()
        fiat_amount = serializers.CharField()
        fee_amount = serializers.CharField()
        net_amount = serializers.CharField()
        fee_rate = serializers.CharField()
        exchange_rate = serializers.CharField()
        payment_details = serializers.DictField()
        source = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        summary="Price a trade (a quote valid QUOTE_TTL)",
        request=Input,
        responses={200: QuoteOutput, **_ERRORS},
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        quote = quote_create(user=request.user, **data.validated_data)
        return Response(quote_as_dict(quote))


class _TradeInput(serializers.Serializer):
    crypto_currency = _code_field()
    fiat_currency = _code_field()
    amount = _amount_field()
    payment_method = serializers.CharField(max_length=32)
    payment_details = serializers.DictField(required=False, default=dict)
    quote_id = serializers.UUIDField(required=False, allow_null=True, default=None)


_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    description="Same key + same body replays the first response; other body: 409.",
)


class _OpenTradeApi(APIView):
    permission_classes = TRADING_PERMISSIONS
    throttle_classes = [TradingThrottle]
    service = None

    def post(self, request):
        data = _TradeInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = type(self).service(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **data.validated_data,
        )
        body = trade.response_body if trade.response_body is not None else trade_as_dict(trade)
        response = Response(TradeOutput(body).data, status=status.HTTP_201_CREATED)
        if getattr(trade, "replayed", False):
            response["Idempotent-Replayed"] = "true"
        return response


class BuyApi(_OpenTradeApi):
    Input = _TradeInput
    service = staticmethod(trade_buy)

    @extend_schema(
        summary="Buy crypto",
        request=_TradeInput,
        parameters=[_IDEMPOTENCY_HEADER],
        responses={201: TradeOutput, **_ERRORS},
    )
    def post(self, request):
        return super().post(request)


class SellApi(_OpenTradeApi):
    Input = _TradeInput
    service = staticmethod(trade_sell)

    @extend_schema(
        summary="Sell crypto",
        request=_TradeInput,
        parameters=[_IDEMPOTENCY_HEADER],
        responses={201: TradeOutput, **_ERRORS},
    )
    def post(self, request):
        return super().post(request)


class TradeListApi(APIView):
    permission_classes = TRADING_PERMISSIONS

    class Input(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
        status = serializers.ChoiceField(choices=TradeStatus.values, required=False)

    @extend_schema(
        summary="Your trades, newest first",
        parameters=[Input],
        responses={
            200: inline_serializer("TradeList", fields={"trades": TradeOutput(many=True)}),
            **_ERRORS,
        },
    )
    def get(self, request):
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        trades = trade_list_for_user(user=request.user, **params.validated_data)
        return Response({"trades": [trade_as_dict(t) for t in trades]})


class TradeDetailApi(APIView):
    permission_classes = TRADING_PERMISSIONS

    @extend_schema(
        operation_id="trading_trade_detail",
        summary="One of your trades",
        responses={200: TradeOutput, **error_responses(401, 403, 404)},
    )
    def get(self, request, trade_id: str):
        return Response(trade_as_dict(trade_get_for_user(user=request.user, trade_id=trade_id)))


class TradeCancelApi(APIView):
    permission_classes = TRADING_PERMISSIONS
    throttle_classes = [TradingThrottle]

    @extend_schema(
        summary="Cancel a pending trade",
        request=None,
        responses={200: TradeOutput, **error_responses(401, 403, 404, 409, 429)},
    )
    def post(self, request, trade_id: str):
        trade = trade_get_for_user(user=request.user, trade_id=trade_id)
        return Response(trade_as_dict(trade_cancel(trade=trade, user=request.user)))


class PaymentMethodsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Payment methods that work today",
        responses={
            200: inline_serializer(
                "PaymentMethods",
                fields={
                    "payment_methods": inline_serializer(
                        "PaymentMethod",
                        many=True,
                        fields={
                            "id": serializers.CharField(),
                            "name": serializers.CharField(),
                            "fee_rate": serializers.CharField(),
                            "processing_time": serializers.CharField(),
                            "currencies": serializers.ListField(child=serializers.CharField()),
                            "limits": serializers.DictField(),
                            "providers": serializers.ListField(child=serializers.CharField()),
                            "supports_buy": serializers.BooleanField(),
                            "supports_sell": serializers.BooleanField(),
                        },
                    )
                },
            )
        },
    )
    def get(self, request):
        return Response({"payment_methods": [m.describe() for m in payment_methods.all_methods()]})


class BalancesApi(APIView):
    permission_classes = TRADING_PERMISSIONS

    @extend_schema(
        summary="Your wallet balances",
        responses={
            200: inline_serializer(
                "Balances",
                fields={
                    "balances": inline_serializer(
                        "Balance",
                        many=True,
                        fields={
                            "currency": serializers.CharField(),
                            "balance": serializers.CharField(),
                            "is_crypto": serializers.BooleanField(),
                        },
                    )
                },
            )
        },
    )
    def get(self, request):
        balances = balances_for_user(user=request.user)
        return Response(
            {
                "balances": [
                    {
                        "currency": code,
                        "balance": format(amount, "f"),
                        "is_crypto": currency(code).is_crypto,
                    }
                    for code, amount in balances.items()
                    if code in CURRENCIES
                ]
            }
        )
