from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dtexchange.schema import DecimalOut, StrictInput, error_responses
from trading.apis import fiat_field
from vouchers import codes
from vouchers.selectors import voucher_check
from vouchers.throttles import VoucherValidateIPThrottle, VoucherValidateUserThrottle


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 64,
        "pattern": codes.CODE_PATTERN,
        "example": "DTX-7K3M-Q9RT-2HWX-PB4N-ZC8D",
        "description": "DTX-XXXX-XXXX-XXXX-XXXX-XXXX: 20 of 23456789ABCDEFGHJKMNPQRSTUVWXYZ; "
        "case, spaces, dashes, dots and underscores are ignored, DTX is optional.",
    }
)
class VoucherCodeField(serializers.CharField):
    pass


class VoucherValidateApi(APIView):
    """Can this voucher pay for a buy in this currency? Answers the same for
    unknown, used, void and expired codes."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [VoucherValidateUserThrottle, VoucherValidateIPThrottle]

    class Input(StrictInput):
        voucher_code = VoucherCodeField(max_length=64, trim_whitespace=False)
        currency = fiat_field()

    class Output(serializers.Serializer):
        valid = serializers.BooleanField()
        reason = serializers.ChoiceField(choices=["ok", "unavailable", "currency_mismatch"])
        message = serializers.CharField()
        currency = fiat_field(required=False)
        amount = DecimalOut(required=False, help_text="the face value, at the currency's precision")
        expires_at = serializers.DateTimeField(required=False)
        code_suffix = serializers.CharField(required=False)

    @extend_schema(
        request=Input,
        responses={200: Output, **error_responses(400, 401, 403)},
        operation_id="vouchers_validate",
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = voucher_check(
            code=data.validated_data["voucher_code"], currency=data.validated_data["currency"]
        )
        if result.usable:
            body = {
                "valid": True,
                "reason": "ok",
                "message": "This voucher can be used.",
                "currency": result.currency,
                # Already quantized to the currency: "50000" UGX, "25.00" USD.
                "amount": str(result.amount),
                "expires_at": result.expires_at.isoformat(),
                "code_suffix": result.suffix,
            }
        elif result.reason == "currency_mismatch":
            body = {
                "valid": False,
                "reason": "currency_mismatch",
                "message": f"This voucher is in {result.currency}.",
                "currency": result.currency,
            }
        else:
            body = {
                "valid": False,
                "reason": "unavailable",
                "message": "This voucher code cannot be used. Check the code, or contact support.",
            }
        return Response(body)
