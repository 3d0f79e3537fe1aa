"""The wallet API (withdrawals, payout numbers): thin views over the wallet's
services and selectors. Serializers check shape only; the services check
meaning (currencies, precision, bounds, balance, the second factor)."""

from __future__ import annotations

from types import SimpleNamespace

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import renderers, serializers, status
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import OtpCodeField
from accounts.permissions import IsVerified
from dtexchange.schema import (
    ClosedChoiceField,
    DecimalOut,
    DecimalStringField,
    QueryInput,
    StrictInput,
    error_responses,
)
from trading.throttles import TradingThrottle
from wallet import topup_methods
from wallet.limits import limits_for_user
from wallet.models import DepositStatus, PayoutNumber, SecondFactor, Withdrawal
from wallet.selectors import (
    deposit_as_dict,
    deposit_get_for_user,
    deposit_list_for_user,
    payout_number_as_dict,
    payout_number_list_for_user,
    tier_request_pending,
    withdrawal_as_dict,
    withdrawal_get_for_user,
    withdrawal_list_for_user,
)
from wallet.services import (
    payout_number_add,
    payout_number_confirm,
    payout_number_delete,
    tier_request_create,
    top_up_open,
    withdrawal_cancel,
    withdrawal_confirm,
    withdrawal_open,
)
from wallet.services.common import IDEMPOTENCY_KEY_PATTERN
from wallet.statement import CSV_COLUMNS, statement_build, statement_csv
from wallet.throttles import ConfirmationCodeThrottle, WithdrawalThrottle

PERMISSIONS = [IsVerified]
WALLET_CURRENCIES = ("UGX", "USD")

_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 128},
    location=OpenApiParameter.HEADER,
    description="1 to 128 visible ASCII characters (inner spaces allowed). The same key "
    "with the same body replays the first response (header Idempotent-Replayed: true); "
    "with another body: 409 idempotency_key_reused.",
)


class DestinationInput(StrictInput):
    """Where the money goes. mobile_money: ``phone_number``; bank: ``bank_name``, ``account_name``,
    ``account_number``."""

    phone_number = serializers.CharField(
        required=False, max_length=32, trim_whitespace=False, allow_blank=True
    )
    bank_name = serializers.CharField(required=False, max_length=100)
    account_name = serializers.CharField(required=False, max_length=150)
    account_number = serializers.CharField(required=False, max_length=40)


class DestinationOutput(serializers.Serializer):
    """Masked: enough to recognise, not to use."""

    phone_number = serializers.CharField(required=False)
    provider = serializers.CharField(required=False)
    holder_name = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="The number's registered holder from Relworx; null when it did not say.",
    )
    bank_name = serializers.CharField(required=False)
    account_name = serializers.CharField(required=False)
    account_number = serializers.CharField(required=False)

    def to_representation(self, instance):
        # Only the fields of the withdrawal's method (a null holder_name is
        # "Relworx did not say", not "not a phone").
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if key in instance}


class WithdrawalOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Withdrawal.Status.choices)
    status_label = serializers.CharField()
    currency = serializers.ChoiceField(choices=WALLET_CURRENCIES)
    amount = DecimalOut(help_text="what leaves the wallet")
    fee_amount = DecimalOut()
    net_amount = DecimalOut(help_text="amount - fee_amount: what the phone or bank receives")
    method = serializers.ChoiceField(choices=Withdrawal.Method.choices)
    destination = DestinationOutput()
    second_factor = serializers.ChoiceField(
        choices=SecondFactor.choices,
        help_text="totp: the code from your authenticator app; email: the code we emailed",
    )
    confirm_by = serializers.DateTimeField()
    failure_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class PayoutNumberOutput(serializers.Serializer):
    id = serializers.UUIDField()
    phone_number = serializers.CharField(help_text="masked")
    provider = serializers.CharField()
    holder_name = serializers.CharField(
        allow_null=True,
        help_text="The registered holder from Relworx; null when it did not say.",
    )
    status = serializers.ChoiceField(
        choices=[c for c in PayoutNumber.Status.choices if c[0] != "deleted"]
    )
    second_factor = serializers.ChoiceField(choices=[*SecondFactor.choices, ("", "")])
    created_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)


class ConfirmationCodeInput(StrictInput):
    """The 6-digit code that confirms a withdrawal or a payout number."""

    code = OtpCodeField(help_text="6 digits: from your authenticator app, or emailed")


def _withdrawal(withdrawal, code=status.HTTP_200_OK) -> Response:
    return Response(WithdrawalOutput(withdrawal_as_dict(withdrawal)).data, status=code)


class WithdrawalListApi(APIView):
    permission_classes = PERMISSIONS

    def get_throttles(self):
        return [WithdrawalThrottle()] if self.request.method == "POST" else []

    class Input(StrictInput):
        currency = ClosedChoiceField(choices=WALLET_CURRENCIES, error_code="currency_not_supported")
        amount = DecimalStringField(help_text="what leaves the wallet, fee included")
        method = ClosedChoiceField(
            choices=tuple(Withdrawal.Method.values), error_code="method_not_supported"
        )
        destination = DestinationInput()

    class Query(QueryInput):
        limit = serializers.IntegerField(min_value=1, max_value=100, default=50)

    @extend_schema(
        operation_id="wallet_withdrawal_create",
        tags=["wallet"],
        summary="Withdraw from your fiat wallet",
        request=Input,
        parameters=[_IDEMPOTENCY_HEADER],
        responses={201: WithdrawalOutput, **error_responses(400, 401, 403, 409, 429)},
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        opened = withdrawal_open(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **data.validated_data,
        )
        response = _withdrawal(opened.withdrawal, status.HTTP_201_CREATED)
        if opened.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(
        operation_id="wallet_withdrawal_list",
        tags=["wallet"],
        summary="Your withdrawals, newest first",
        parameters=[Query],
        responses={
            200: inline_serializer(
                "WithdrawalList", fields={"withdrawals": WithdrawalOutput(many=True)}
            ),
            **error_responses(400, 401, 403),
        },
    )
    def get(self, request):
        query = self.Query(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = withdrawal_list_for_user(user=request.user, limit=query.validated_data["limit"])
        return Response(
            {"withdrawals": [WithdrawalOutput(withdrawal_as_dict(w)).data for w in rows]}
        )


class WithdrawalDetailApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        operation_id="wallet_withdrawal_get",
        tags=["wallet"],
        summary="One of your withdrawals",
        responses={200: WithdrawalOutput, **error_responses(401, 403, 404)},
    )
    def get(self, request, withdrawal_id):
        return _withdrawal(withdrawal_get_for_user(user=request.user, withdrawal_id=withdrawal_id))


class WithdrawalConfirmApi(APIView):
    permission_classes = PERMISSIONS
    throttle_classes = [ConfirmationCodeThrottle]

    @extend_schema(
        operation_id="wallet_withdrawal_confirm",
        tags=["wallet"],
        summary="Confirm a withdrawal with your code",
        request=ConfirmationCodeInput,
        responses={200: WithdrawalOutput, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, withdrawal_id):
        data = ConfirmationCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = withdrawal_confirm(
            user=request.user, withdrawal_id=withdrawal_id, code=data.validated_data["code"]
        )
        return _withdrawal(withdrawal)


class WithdrawalCancelApi(APIView):
    permission_classes = PERMISSIONS
    throttle_classes = [WithdrawalThrottle]

    @extend_schema(
        operation_id="wallet_withdrawal_cancel",
        tags=["wallet"],
        summary="Cancel a withdrawal not confirmed yet (the money is back at once)",
        request=None,
        responses={200: WithdrawalOutput, **error_responses(401, 403, 404, 409, 429)},
    )
    def post(self, request, withdrawal_id):
        return _withdrawal(withdrawal_cancel(user=request.user, withdrawal_id=withdrawal_id))


class PayoutNumberListApi(APIView):
    permission_classes = PERMISSIONS

    def get_throttles(self):
        return [WithdrawalThrottle()] if self.request.method == "POST" else []

    class Input(StrictInput):
        phone_number = serializers.CharField(max_length=32, trim_whitespace=False, allow_blank=True)

    @extend_schema(
        operation_id="wallet_payout_number_create",
        tags=["wallet"],
        summary="Add a mobile-money number to be paid out to (then confirm it)",
        request=Input,
        responses={201: PayoutNumberOutput, **error_responses(400, 401, 403, 409, 429)},
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        number = payout_number_add(user=request.user, **data.validated_data)
        return Response(
            PayoutNumberOutput(payout_number_as_dict(number)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        operation_id="wallet_payout_number_list",
        tags=["wallet"],
        summary="Your payout numbers",
        responses={
            200: inline_serializer(
                "PayoutNumberList", fields={"payout_numbers": PayoutNumberOutput(many=True)}
            ),
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        rows = payout_number_list_for_user(user=request.user)
        return Response(
            {"payout_numbers": [PayoutNumberOutput(payout_number_as_dict(n)).data for n in rows]}
        )


class PayoutNumberDetailApi(APIView):
    permission_classes = PERMISSIONS
    throttle_classes = [WithdrawalThrottle]

    @extend_schema(
        operation_id="wallet_payout_number_delete",
        tags=["wallet"],
        summary="Remove a payout number (nothing is paid to it any more)",
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 429)},
    )
    def delete(self, request, number_id):
        payout_number_delete(user=request.user, number_id=number_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PayoutNumberConfirmApi(APIView):
    permission_classes = PERMISSIONS
    throttle_classes = [ConfirmationCodeThrottle]

    @extend_schema(
        operation_id="wallet_payout_number_confirm",
        tags=["wallet"],
        summary="Confirm a payout number with your code",
        request=ConfirmationCodeInput,
        responses={200: PayoutNumberOutput, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, number_id):
        data = ConfirmationCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        number = payout_number_confirm(
            user=request.user, number_id=number_id, code=data.validated_data["code"]
        )
        return Response(PayoutNumberOutput(payout_number_as_dict(number)).data)


PERMISSIONS = [IsVerified]
FIAT = ("UGX", "USD")


class TopUpMethodField(ClosedChoiceField):
    """One of the registered top-up methods (registered at start-up by the
    app that runs each), read when validating and when the schema is made."""

    @property
    def choices(self):
        return {m.code: m.code for m in topup_methods.all_methods()}

    @choices.setter
    def choices(self, value):
        pass

    @property
    def grouped_choices(self):
        return self.choices

    @grouped_choices.setter
    def grouped_choices(self, value):
        pass


def method_field(**kwargs) -> ClosedChoiceField:
    return TopUpMethodField(choices=(), error_code="unknown_payment_method", **kwargs)


def fiat_field(**kwargs) -> ClosedChoiceField:
    return ClosedChoiceField(choices=FIAT, error_code="unknown_currency", **kwargs)


class DepositOutput(serializers.Serializer):
    """A top-up; amounts are decimal strings at their currency's precision."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=DepositStatus.choices)
    method = method_field()
    currency = fiat_field()
    amount = DecimalOut(help_text="what you pay, the fee included")
    fee_rate = DecimalOut(help_text="a fraction: 0.025 is 2.5%")
    fee_amount = DecimalOut(help_text="the method's fee (on the amount received once completed)")
    net_amount = DecimalOut(help_text="what your wallet receives")
    amount_received = DecimalOut(allow_null=True, help_text="once the money arrived")
    payment_details = serializers.DictField(help_text="mobile_money: the masked number")
    instructions = serializers.DictField()
    reference_code = serializers.CharField(
        allow_null=True, help_text="bank_deposit: quote it on the transfer; else null"
    )
    failure_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        return dict(instance)


_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 128},
    location=OpenApiParameter.HEADER,
    description="1 to 128 visible ASCII characters (inner spaces allowed). The same key "
    "with the same body replays the first response (header Idempotent-Replayed: true); "
    "with another body: 409 idempotency_key_reused.",
)


class DepositsApi(APIView):
    permission_classes = PERMISSIONS
    throttle_classes = [TradingThrottle]

    class Input(StrictInput):
        currency = fiat_field()
        amount = DecimalStringField(help_text="what you pay, the method's fee included")
        method = method_field()
        payment_details = serializers.DictField(
            required=False,
            default=dict,
            help_text="mobile_money: {phone_number: +256...}; bank_deposit: {}",
        )

    class ListInput(QueryInput):
        limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
        status = ClosedChoiceField(choices=tuple(DepositStatus.values), required=False)

    def get_throttles(self):
        # Reading one's own top-ups is not a write to throttle.
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        operation_id="wallet_deposits_create",
        summary="Top up your fiat wallet",
        request=Input,
        parameters=[_IDEMPOTENCY_HEADER],
        responses={201: DepositOutput, **error_responses(400, 401, 403, 409, 429)},
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        opened = top_up_open(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **data.validated_data,
        )
        deposit = opened.deposit
        body = deposit.response_body if deposit.response_body else deposit_as_dict(deposit)
        response = Response(DepositOutput(body).data, status=status.HTTP_201_CREATED)
        if opened.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(
        operation_id="wallet_deposits_list",
        summary="Your top-ups, newest first",
        parameters=[ListInput],
        responses={
            200: inline_serializer("DepositList", fields={"deposits": DepositOutput(many=True)}),
            **error_responses(400, 401, 403),
        },
    )
    def get(self, request):
        params = self.ListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = deposit_list_for_user(user=request.user, **params.validated_data)
        return Response({"deposits": [deposit_as_dict(d) for d in rows]})


class DepositDetailApi(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        operation_id="wallet_deposit_detail",
        summary="One of your top-ups",
        responses={200: DepositOutput, **error_responses(401, 403, 404)},
    )
    def get(self, request, deposit_id: str):
        return Response(
            deposit_as_dict(deposit_get_for_user(user=request.user, deposit_id=deposit_id))
        )


class LimitOutput(serializers.Serializer):
    name = serializers.CharField(help_text='e.g. "buy_daily", "withdrawals_per_hour"')
    currency = serializers.CharField(
        allow_null=True, help_text="UGX (UGX-equivalent amounts), or null for a count"
    )
    period = ClosedChoiceField(choices=("hour", "day", "month"))
    limit = DecimalOut()
    used = DecimalOut()
    remaining = DecimalOut()
    resets_at = serializers.DateTimeField(help_text="the next start of the period (EAT)")


class LimitsApi(APIView):
    permission_classes = PERMISSIONS

    class Output(serializers.Serializer):
        tier = serializers.IntegerField(
            min_value=0, max_value=2, help_text="0 unverified email, 1 verified, 2 identity checked"
        )
        tier_request = serializers.CharField(
            allow_null=True, help_text='"pending" while a request for tier 2 waits, else null'
        )
        limits = LimitOutput(many=True)

    @extend_schema(
        summary="Your tier and limits, with what is used",
        responses={200: Output, **error_responses(401, 403)},
    )
    def get(self, request):
        tier, states = limits_for_user(user=request.user)
        pending = tier_request_pending(user=request.user)
        return Response(
            {
                "tier": tier,
                "tier_request": pending.status if pending else None,
                "limits": [s.as_dict() for s in states],
            }
        )


class TextField(serializers.CharField):
    """A JSON string, nothing else (DRF's CharField would take 0 as "0")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TierRequestApi(APIView):
    permission_classes = PERMISSIONS
    throttle_classes = [TradingThrottle]

    class Input(StrictInput):
        note = TextField(
            required=False,
            allow_blank=True,
            max_length=1000,
            default="",
            help_text="anything our team should know (optional)",
        )

    class Output(serializers.Serializer):
        status = ClosedChoiceField(choices=("pending",))
        requested_tier = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        summary="Ask for tier 2 (identity checked by our team)",
        request=Input,
        responses={201: Output, **error_responses(400, 401, 403, 409, 429)},
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        made = tier_request_create(user=request.user, note=data.validated_data["note"])
        return Response(
            {
                "status": made.status,
                "requested_tier": made.requested_tier,
                "created_at": made.created_at.isoformat(),
            },
            status=status.HTTP_201_CREATED,
        )


class CsvRenderer(renderers.BaseRenderer):
    """Lets a client that accepts only text/csv ask for the CSV statement.
    The view writes the CSV itself; errors are always the JSON envelope
    (StatementApi.finalize_response), so this never renders anything."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError("the statement view answers CSV itself")


class _QueryFormatIsOurs(DefaultContentNegotiation):
    # ``format`` is this operation's own query parameter (json|csv, checked
    # by its serializer: 400 when wrong), not DRF's renderer override.
    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class StatementApi(APIView):
    permission_classes = PERMISSIONS
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]
    content_negotiation_class = _QueryFormatIsOurs

    class Input(QueryInput):
        # ``from`` is a Python keyword: the field is named in __init__.
        to = serializers.DateField(input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD, EAT")
        format = ClosedChoiceField(choices=("json", "csv"), required=False, default="json")

        def get_fields(self):
            fields = super().get_fields()
            fields["from"] = serializers.DateField(
                input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD, EAT, inclusive"
            )
            return fields

    class BalanceOutput(serializers.Serializer):
        currency = serializers.CharField()
        opening = DecimalOut()
        credits = DecimalOut()
        debits = DecimalOut()
        closing = DecimalOut()

    class MovementOutput(serializers.Serializer):
        at = serializers.DateTimeField()
        date = serializers.DateField(help_text="EAT")
        time = serializers.CharField(help_text="HH:MM:SS, EAT")
        kind = serializers.CharField()
        description = serializers.CharField(allow_blank=True)
        currency = serializers.CharField()
        amount = DecimalOut(help_text="signed: + in, - out")
        balance = DecimalOut(help_text="after this movement")
        reference = serializers.CharField(allow_blank=True)

    class TradeRowOutput(serializers.Serializer):
        id = serializers.UUIDField()
        reference = serializers.CharField()
        at = serializers.DateTimeField()
        date = serializers.DateField()
        time = serializers.CharField()
        trade_type = serializers.CharField()
        status = serializers.CharField()
        crypto_currency = serializers.CharField()
        crypto_amount = DecimalOut()
        fiat_currency = serializers.CharField()
        fiat_amount = DecimalOut()
        fee_amount = DecimalOut()
        payment_method = serializers.CharField()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            # The error envelope is JSON whatever the client accepts.
            response.accepted_renderer = renderers.JSONRenderer()
            response.accepted_media_type = "application/json"
        return response

    @extend_schema(
        summary="Your statement: movements and trades between two dates (EAT)",
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                location=OpenApiParameter.QUERY,
                required=True,
                description="YYYY-MM-DD, East Africa Time, inclusive",
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.DATE,
                location=OpenApiParameter.QUERY,
                required=True,
                description="YYYY-MM-DD, East Africa Time, inclusive",
            ),
            OpenApiParameter(
                "format",
                str,
                location=OpenApiParameter.QUERY,
                required=False,
                enum=["json", "csv"],
                description="json (default) or csv (a header row: " + ", ".join(CSV_COLUMNS) + ")",
            ),
        ],
        responses={
            (200, "application/json"): inline_serializer(
                "Statement",
                fields={
                    "from": serializers.DateField(),
                    "to": serializers.DateField(),
                    "timezone": ClosedChoiceField(choices=("Africa/Kampala",)),
                    "balances": BalanceOutput(many=True),
                    "movements": MovementOutput(many=True),
                    "trades": TradeRowOutput(many=True),
                },
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the CSV"),
            **{
                (code, "application/json"): answer
                for code, answer in error_responses(400, 401, 403).items()
            },
        },
    )
    def get(self, request):
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if data["format"] == "json" and request.accepted_renderer.format == "csv":
            raise NotAcceptable("Ask for format=csv, or accept application/json.")
        statement = statement_build(user=request.user, date_from=data["from"], date_to=data["to"])
        if data["format"] == "csv":
            response = HttpResponse(
                statement_csv(statement), content_type="text/csv; charset=utf-8"
            )
            name = f"dtexchange-statement-{data['from']}-{data['to']}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        return Response(statement.as_dict())
