"""The wallet API (withdrawals, payout numbers): thin views over the wallet's
services and selectors. Serializers check shape only; the services check
meaning (currencies, precision, bounds, balance, the second factor)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
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
from wallet.models import PayoutNumber, SecondFactor, Withdrawal
from wallet.selectors import (
    payout_number_as_dict,
    payout_number_list_for_user,
    withdrawal_as_dict,
    withdrawal_get_for_user,
    withdrawal_list_for_user,
)
from wallet.services import (
    payout_number_add,
    payout_number_confirm,
    payout_number_delete,
    withdrawal_cancel,
    withdrawal_confirm,
    withdrawal_create,
)
from wallet.services.withdrawals import IDEMPOTENCY_KEY_PATTERN
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
        withdrawal = withdrawal_create(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **data.validated_data,
        )
        response = _withdrawal(withdrawal, status.HTTP_201_CREATED)
        if getattr(withdrawal, "replayed", False):
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
