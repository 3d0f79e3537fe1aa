"""payments' HTTP endpoints: the Relworx webhook."""

from __future__ import annotations

import structlog
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dtexchange.client_ip import client_ip
from dtexchange.errors import error_body
from dtexchange.schema import error_responses
from payments.services import webhook_receive
from payments.signature import SIGNED_FIELDS, SignatureError, signature_verify
from payments.throttles import RelworxWebhookThrottle

log = structlog.get_logger(__name__)


class RelworxWebhookApi(APIView):
    """Relworx calls this when a request's status changes.

    Authenticated by the ``Relworx-Signature`` HMAC only (no user), so no
    session/JWT authentication (and no CSRF) applies. Rate-limited per client
    address (THROTTLE_RELWORX_WEBHOOK): DRF checks the throttle in
    ``initial()``, before ``post`` reads the body or checks the signature.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RelworxWebhookThrottle]

    class Input(serializers.Serializer):
        status = serializers.CharField()
        customer_reference = serializers.CharField(allow_blank=True, required=False)
        internal_reference = serializers.CharField()
        message = serializers.CharField(allow_blank=True, required=False)
        # Not signed, so not used to move money (the status check is); shape only.
        amount = serializers.DecimalField(max_digits=38, decimal_places=18, required=False)
        currency = serializers.CharField(allow_blank=True, required=False)
        charge = serializers.DecimalField(
            max_digits=38, decimal_places=18, required=False, allow_null=True
        )

    @extend_schema(
        request=Input,
        parameters=[
            OpenApiParameter(
                "Relworx-Signature",
                str,
                location=OpenApiParameter.HEADER,
                required=True,
                description="t=<unix time>,v=<HMAC-SHA256 hex or base64>",
            )
        ],
        responses={
            200: inline_serializer(
                "RelworxWebhookAnswer",
                fields={"received": serializers.BooleanField(), "result": serializers.CharField()},
            ),
            **error_responses(400, 401),
        },
        auth=[],
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        fields = {name: data.get(name) for name in SIGNED_FIELDS}
        try:
            signed_at = signature_verify(
                header=request.headers.get("Relworx-Signature"),
                key=settings.RELWORX_WEBHOOK_SECRET,
                url=settings.RELWORX_WEBHOOK_URL,
                fields=fields,
                max_age=settings.RELWORX_WEBHOOK_MAX_AGE_SECONDS,
                # Relworx retries up to 10 times with back-off, perhaps with the
                # first attempt's time; a webhook only queues a status check.
                max_past=int(settings.RELWORX_WEBHOOK_RETRY_WINDOW.total_seconds()),
            )
        except SignatureError as exc:
            log.warning(
                "relworx.webhook.rejected",
                reason=exc.reason,
                internal_reference=str(fields.get("internal_reference"))[:64],
                remote_addr=client_ip(request),
            )
            return Response(
                error_body("invalid_signature", "The webhook signature is missing or invalid."),
                status=401,
            )
        self.Input(data=data).is_valid(raise_exception=True)
        result = webhook_receive(payload=dict(data), signed_at=signed_at)
        return Response({"received": True, "result": result})
