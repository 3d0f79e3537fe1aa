"""The trading API: thin views over trading's services/selectors.

Serializers check shape only (types, required fields, digits); the services
check meaning (currencies, precision per currency, limits, balances) so the
API, the site and the admin share one set of rules.
"""

from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsVerified
from dtexchange.schema import (
    ClosedChoiceField,
    DecimalOut,
    DecimalStringField,
    QueryInput,
    StrictInput,
    error_responses,
)
from ledger.money import CRYPTO_CODES, CURRENCIES, FIAT_CODES, currency
from ledger.selectors import balances_for_user
from trading import payment_methods
from trading.formatting import quote_as_dict, trade_as_dict
from trading.models.trades import TradeStatus, TradeType
from trading.selectors.trades import trade_get_for_user, trade_list_for_user
from trading.services.prices import price_get, prices_get_all
from trading.services.quotes import quote_create
from trading.services.trades import trade_cancel, trade_open
from trading.services.trades.opening import IDEMPOTENCY_KEY_PATTERN
from trading.throttles import AnonCalculateThrottle, TradingThrottle

# Trading and reading one's trades need a verified email (403
# email_not_verified; 401 when not signed in).
TRADING_PERMISSIONS = [IsVerified]

# Trading writes are throttled too (429).
_ERRORS = error_responses(400, 401, 403, 409, 429)


def _currency_error(allowed: tuple[str, ...]):
    # A code of the other kind (USD as the crypto) is a wrong pair, anything
    # else an unknown currency: the codes the services use too.
    def code(value) -> str:
        if isinstance(value, str) and value in CURRENCIES and value not in allowed:
            return "invalid_currency_pair"
        return "unknown_currency"

    return code


def crypto_field(**kwargs) -> ClosedChoiceField:
    return ClosedChoiceField(
        choices=CRYPTO_CODES, error_code=_currency_error(CRYPTO_CODES), **kwargs
    )


def fiat_field(**kwargs) -> ClosedChoiceField:
    return ClosedChoiceField(choices=FIAT_CODES, error_code=_currency_error(FIAT_CODES), **kwargs)


def currency_field(**kwargs) -> ClosedChoiceField:
    return ClosedChoiceField(choices=tuple(CURRENCIES), error_code="unknown_currency", **kwargs)


class PaymentMethodField(ClosedChoiceField):
    """One of the registered payment methods (each app registers its own at
    start-up), read when validating and when the schema is generated."""

    @property
    def choices(self):
        return {m.code: m.code for m in payment_methods.all_methods()}

    @choices.setter
    def choices(self, value):  # set by ChoiceField.__init__; the registry decides
        pass

    @property
    def grouped_choices(self):
        return self.choices

    @grouped_choices.setter
    def grouped_choices(self, value):
        pass


def payment_method_field(**kwargs) -> ClosedChoiceField:
    return PaymentMethodField(choices=(), error_code="unknown_payment_method", **kwargs)


def trade_type_field(**kwargs) -> ClosedChoiceField:
    return ClosedChoiceField(choices=("buy", "sell"), **kwargs)


class TradeOutput(serializers.Serializer):
    """One trade; amounts are decimal strings at their currency's precision."""

    id = serializers.UUIDField()
    reference = serializers.CharField()
    trade_type = trade_type_field()
    status = serializers.ChoiceField(choices=TradeStatus.choices)
    status_label = serializers.CharField()
    crypto_currency = crypto_field()
    fiat_currency = fiat_field()
    crypto_amount = DecimalOut(help_text="in crypto_currency, at its precision")
    fiat_amount = DecimalOut(help_text="buy: paid incl. fee; sell: gross; in fiat_currency")
    fee_amount = DecimalOut(help_text="in fiat_currency")
    net_amount = DecimalOut(help_text="fiat_amount - fee_amount")
    fee_rate = DecimalOut(help_text="a fraction: 0.005 is 0.5%")
    exchange_rate = DecimalOut(help_text="fiat per unit of crypto")
    payment_method = payment_method_field()
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


_DETAILS_HELP = (
    "Per method: mobile_money {phone_number: +256...} (sell: a confirmed payout number); "
    "voucher {voucher_code}; crypto {from_currency: BTC|ETH|SOL|TRX}; balance and "
    "bank_deposit: {}."
)


class PricesApi(APIView):
    permission_classes = [AllowAny]

    class Input(QueryInput):
        crypto = crypto_field(required=False, help_text="One pair with fiat; else a filter.")
        fiat = fiat_field(required=False, help_text="One pair with crypto; else a filter.")

    class PriceOutput(serializers.Serializer):
        crypto = crypto_field()
        fiat = fiat_field()
        price = DecimalOut(help_text="fiat per unit of crypto")
        change = DecimalOut(help_text="percent change since the previous refresh")
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
        parameters=[Input],
        responses={
            200: PolymorphicProxySerializer(
                component_name="PriceAnswer",
                serializers=[
                    PriceOutput,
                    inline_serializer("PriceList", fields={"prices": PriceOutput(many=True)}),
                ],
                resource_type_field_name=None,
            ),
            **error_responses(400),
        },
    )
    def get(self, request):
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        crypto = params.validated_data.get("crypto", "")
        fiat = params.validated_data.get("fiat", "")
        if crypto and fiat:
            return Response(self._row(price_get(crypto=crypto, fiat=fiat, allow_stale=True)))
        rows = [
            self._row(p)
            for (c, f), p in sorted(prices_get_all().items())
            if (not crypto or c == crypto) and (not fiat or f == fiat)
        ]
        return Response({"prices": rows})


class CalculateApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [TradingThrottle, AnonCalculateThrottle]

    class Input(StrictInput):
        crypto_currency = crypto_field()
        fiat_currency = fiat_field()
        amount = DecimalStringField(
            help_text="buy: fiat paid incl. fee; sell: crypto sold; crypto method: "
            "amount of payment_details.from_currency spent"
        )
        trade_type = trade_type_field()
        payment_method = payment_method_field()
        payment_details = serializers.DictField(
            required=False, default=dict, help_text=_DETAILS_HELP
        )

    class QuoteOutput(serializers.Serializer):
        quote_id = serializers.UUIDField()
        trade_type = trade_type_field()
        crypto_currency = crypto_field()
        fiat_currency = fiat_field()
        payment_method = payment_method_field()
        amount = DecimalOut(help_text="as asked")
        crypto_amount = DecimalOut()
        fiat_amount = DecimalOut()
        fee_amount = DecimalOut()
        net_amount = DecimalOut()
        fee_rate = DecimalOut()
        exchange_rate = DecimalOut()
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


class _TradeInput(StrictInput):
    crypto_currency = crypto_field()
    fiat_currency = fiat_field()
    amount = DecimalStringField(
        help_text="buy: fiat paid incl. fee; sell: crypto sold; crypto method: "
        "amount of payment_details.from_currency spent"
    )
    payment_method = payment_method_field()
    payment_details = serializers.DictField(required=False, default=dict, help_text=_DETAILS_HELP)
    quote_id = serializers.UUIDField(required=False, allow_null=True, default=None)


_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 128},
    location=OpenApiParameter.HEADER,
    description="1 to 128 visible ASCII characters (inner spaces allowed). The same key "
    "with the same body replays the first response (header Idempotent-Replayed: true); "
    "with another body: 409 idempotency_key_reused.",
)


class _OpenTradeApi(APIView):
    permission_classes = TRADING_PERMISSIONS
    throttle_classes = [TradingThrottle]
    trade_type: str

    def post(self, request):
        data = _TradeInput(data=request.data)
        data.is_valid(raise_exception=True)
        opened = trade_open(
            trade_type=self.trade_type,
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **data.validated_data,
        )
        trade = opened.trade
        body = trade.response_body if trade.response_body is not None else trade_as_dict(trade)
        response = Response(TradeOutput(body).data, status=status.HTTP_201_CREATED)
        if opened.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class BuyApi(_OpenTradeApi):
    Input = _TradeInput
    trade_type = TradeType.BUY

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
    trade_type = TradeType.SELL

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

    class Input(QueryInput):
        limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
        status = ClosedChoiceField(choices=tuple(TradeStatus.values), required=False)

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
                            "id": payment_method_field(),
                            "name": serializers.CharField(),
                            "fee_rate": DecimalOut(help_text="a fraction: 0.025 is 2.5%"),
                            "processing_time": serializers.CharField(),
                            "currencies": serializers.ListField(child=fiat_field()),
                            "limits": serializers.DictField(),
                            "providers": serializers.ListField(child=serializers.CharField()),
                            "supports_buy": serializers.BooleanField(),
                            "supports_sell": serializers.BooleanField(),
                        },
                    )
                },
            ),
            **error_responses(),
        },
    )
    def get(self, request):
        return Response({"payment_methods": payment_methods.describe_all()})


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
                            "currency": currency_field(),
                            "balance": DecimalOut(help_text="exact, at the currency's precision"),
                            "is_crypto": serializers.BooleanField(),
                        },
                    )
                },
            ),
            **error_responses(401, 403),
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
