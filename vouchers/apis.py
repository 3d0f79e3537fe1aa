from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from vouchers.selectors import voucher_check
from vouchers.throttles import VoucherValidateIPThrottle, VoucherValidateUserThrottle


class VoucherValidateApi(APIView):
    """Can this voucher pay for a buy in this currency? Answers the same for
    unknown, used, void and expired codes."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [VoucherValidateUserThrottle, VoucherValidateIPThrottle]

    class Input(serializers.Serializer):
        voucher_code = serializers.CharField(max_length=64, trim_whitespace=True)
        currency = serializers.CharField(max_length=8)

    class Output(serializers.Serializer):
        valid = serializers.BooleanField()
        reason = serializers.ChoiceField(choices=["ok", "unavailable", "currency_mismatch"])
        message = serializers.CharField()
        currency = serializers.CharField(required=False)
        amount = serializers.DecimalField(
            max_digits=38, decimal_places=18, required=False, coerce_to_string=True
        )
        expires_at = serializers.DateTimeField(required=False)
        code_suffix = serializers.CharField(required=False)

    @extend_schema(request=Input, responses={200: Output}, operation_id="vouchers_validate")
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
