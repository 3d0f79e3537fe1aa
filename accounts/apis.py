"""Auth API: thin views over accounts.services."""

import re

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.roles import ROLES
from accounts.throttles import (
    AuthAccountThrottle,
    AuthIPThrottle,
    OTPAccountThrottle,
    PasswordCheckUserThrottle,
    ResendIntervalThrottle,
)
from dtexchange.schema import StrictInput
from dtexchange.schema import error_responses as _errors
from dtexchange.throttling import UserRateThrottle

# What JSON Schema cannot say about a password is said in words (Django's
# AUTH_PASSWORD_VALIDATORS); a password that breaks them is a 400 naming it.
CREDENTIAL_RULES_TEXT = (
    "8 to 128 characters; not entirely digits; not a commonly used password; not too "
    "similar to the email address. A password that breaks a rule gets 400 invalid_input "
    "with details.password."
)


@extend_schema_field(
    {
        "type": "string",
        "minLength": 8,
        "maxLength": 128,
        "not": {"pattern": "^[0-9]+$"},
        "description": CREDENTIAL_RULES_TEXT,
        "example": "correct horse battery",
    }
)
class PasswordField(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "pattern": "^[0-9]{6}$", "example": "042917"})
class OtpCodeField(serializers.CharField):
    """Six ASCII digits, nothing else (no other script's digits, no newline)."""

    default_error_messages = {"invalid": "Enter the 6-digit code from the email."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(r"[0-9]{6}", data):
            self.fail("invalid")
        return data


# secrets.token_urlsafe(32): 43 characters, whatever the address.
REGISTRATION_TOKEN_LENGTH = 43


def _password_field() -> serializers.CharField:
    return PasswordField(min_length=8, max_length=128, trim_whitespace=False)


def _email_field() -> serializers.EmailField:
    return serializers.EmailField(
        max_length=254, help_text="An address as Django's EmailValidator accepts it."
    )


class AuthAccepted(serializers.Serializer):
    detail = serializers.CharField()


class TokenPair(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class _PublicAuthView(APIView):
    authentication_classes: list = []  # a stale Bearer header must not block sign-in
    permission_classes = [AllowAny]


class RegisterApi(_PublicAuthView):
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]

    class Input(StrictInput):
        email = _email_field()
        password = _password_field()

    class Output(serializers.Serializer):
        detail = serializers.CharField()
        registration = serializers.CharField(
            min_length=REGISTRATION_TOKEN_LENGTH,
            max_length=REGISTRATION_TOKEN_LENGTH,
            help_text="Names this sign-up; send it with the code to verify-email so the "
            "password of this sign-up applies. Present (and alike) for every address.",
        )

    MESSAGE = (
        "If this address can be registered, we have sent a 6-digit code to it. "
        "Enter it at /api/auth/verify-email within 10 minutes, with the `registration` "
        "value of this answer."
    )

    @extend_schema(
        operation_id="auth_register",
        tags=["auth"],
        request=Input,
        responses={202: Output, **_errors(400, 429)},
        description="Create an account and email a verification code. The answer is "
        "the same whether or not the address already has an account.",
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        registration = services.user_register(**data.validated_data)
        return Response(
            self.Output({"detail": self.MESSAGE, "registration": registration.token}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class VerifyEmailApi(_PublicAuthView):
    throttle_classes = [AuthIPThrottle, OTPAccountThrottle]

    class Input(StrictInput):
        email = _email_field()
        code = OtpCodeField()
        registration = serializers.CharField(
            required=False,
            max_length=64,
            help_text="The `registration` value register answered this sign-up with. "
            "Without it (or with one that is not this address's), no sign-up's password "
            "applies when the address has more than one: the account then needs a "
            "password reset.",
        )

    class Output(serializers.Serializer):
        email = serializers.EmailField()
        email_verified = serializers.BooleanField()
        password_reset_needed = serializers.BooleanField(
            help_text="True when no password applies yet: set one with a password reset."
        )

    @extend_schema(
        operation_id="auth_verify_email",
        tags=["auth"],
        request=Input,
        responses={200: Output, **_errors(400, 429)},
        description="Spend the emailed code. Any failure (wrong, expired, used, too many "
        "tries, unknown address) is the same 400 `invalid_code`.",
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.email_verify(**data.validated_data)
        return Response(
            self.Output(
                {
                    "email": result.user.email,
                    "email_verified": True,
                    "password_reset_needed": result.password_reset_needed,
                }
            ).data
        )


class ResendCodeApi(_PublicAuthView):
    throttle_classes = [AuthIPThrottle, OTPAccountThrottle, ResendIntervalThrottle]

    class Input(StrictInput):
        email = _email_field()

    Output = AuthAccepted
    MESSAGE = "If this address is waiting for verification, a new code is on its way."

    @extend_schema(
        operation_id="auth_resend_code",
        tags=["auth"],
        request=Input,
        responses={202: Output, **_errors(400, 429)},
        description="Email a new code (the earlier one stops working). At most one per "
        "resend interval per address; the answer is the same for any address.",
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        services.verification_code_resend(**data.validated_data)
        return Response(self.Output({"detail": self.MESSAGE}).data, status=status.HTTP_202_ACCEPTED)


class TokenApi(_PublicAuthView):
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]

    class Input(StrictInput):
        email = _email_field()
        # Sign-in checks the password, not the rules (older passwords may predate them).
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    Output = TokenPair

    @extend_schema(
        operation_id="auth_token",
        tags=["auth"],
        request=Input,
        responses={200: Output, **_errors(400, 401, 429)},
        description="Sign in. Unverified users get tokens too (to see /me and verify) "
        "but cannot trade. Unknown address and wrong password give the same 401.",
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.token_obtain(
            **data.validated_data, device=request.headers.get("User-Agent", "")[:200]
        )
        return Response(self.Output(tokens).data)


class RefreshTokenInput(StrictInput):
    refresh = serializers.CharField(max_length=4096)


class TokenRefreshApi(_PublicAuthView):
    throttle_classes = [AuthIPThrottle]
    Input = RefreshTokenInput
    Output = TokenPair

    @extend_schema(
        operation_id="auth_token_refresh",
        tags=["auth"],
        request=Input,
        responses={200: Output, **_errors(400, 401, 429)},
        description="Rotate: returns a new pair; the refresh token sent is spent.",
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self.Output(services.token_refresh(**data.validated_data)).data)


class LogoutApi(_PublicAuthView):
    throttle_classes = [AuthIPThrottle]
    Input = RefreshTokenInput

    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        request=Input,
        responses={204: OpenApiResponse(description="Signed out."), **_errors(400, 401, 429)},
        description="Revoke the refresh token. The access token expires by itself within minutes.",
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        services.token_revoke(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        full_name = serializers.CharField()
        email_verified = serializers.BooleanField()
        roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLES))
        date_joined = serializers.DateTimeField()

    @extend_schema(operation_id="auth_me", tags=["auth"], responses={200: Output, **_errors(401)})
    def get(self, request):
        return Response(self.Output(selectors.user_profile(user=request.user)).data)


class MeExportApi(APIView):
    """Everything held about the signed-in user, as one JSON document."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_me_export", tags=["auth"], responses={200: dict, **_errors(401)}
    )
    def get(self, request):
        response = Response(services.user_data_export(user=request.user))
        response["Content-Disposition"] = 'attachment; filename="dt-exchange-my-data.json"'
        return response


class MeEraseApi(APIView):
    """Close the account and erase the personal data (password required)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [AuthIPThrottle, PasswordCheckUserThrottle]

    class Input(serializers.Serializer):
        password = serializers.CharField(trim_whitespace=False)
        give_up_small_balances = serializers.BooleanField(default=False)

    @extend_schema(
        operation_id="auth_me_erase",
        tags=["auth"],
        request=Input,
        responses={204: None, **_errors(400, 401, 409, 429)},
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_erase(
            user=request.user,
            password=data.validated_data["password"],
            give_up_small_balances=data.validated_data["give_up_small_balances"],
        )
        return Response(status=204)


class ConfirmationCodeThrottle(UserRateThrottle):
    scope = "otp"


class AuthenticatorCodeInput(StrictInput):
    """A code from the user's authenticator app."""

    code = OtpCodeField(help_text="6 digits from your authenticator app")


class AuthenticatorApi(APIView):
    """Your authenticator app (TOTP), the second factor of withdrawals."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ConfirmationCodeThrottle]

    class Output(serializers.Serializer):
        secret = serializers.CharField(help_text="base32, to type into the app")
        otpauth_uri = serializers.CharField()
        qr_code = serializers.CharField(help_text="an SVG image as a data: URI")

    @extend_schema(
        operation_id="auth_me_authenticator_start",
        tags=["auth"],
        request=None,
        responses={201: Output, **_errors(401, 429)},
    )
    def post(self, request):
        from accounts.authenticator import authenticator_enrol_start

        enrolment = authenticator_enrol_start(user=request.user)
        return Response(
            self.Output(
                {
                    "secret": enrolment.secret,
                    "otpauth_uri": enrolment.otpauth_uri,
                    "qr_code": enrolment.qr_code,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


class AuthenticatorRemoveApi(APIView):
    """Remove your authenticator app; a code from it proves it is yours."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ConfirmationCodeThrottle]

    @extend_schema(
        operation_id="auth_me_authenticator_remove",
        tags=["auth"],
        request=AuthenticatorCodeInput,
        responses={204: None, **_errors(400, 401, 409, 429)},
    )
    def post(self, request):
        from accounts.authenticator import authenticator_remove

        data = AuthenticatorCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        authenticator_remove(user=request.user, code=data.validated_data["code"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthenticatorConfirmApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ConfirmationCodeThrottle]

    @extend_schema(
        operation_id="auth_me_authenticator_confirm",
        tags=["auth"],
        request=AuthenticatorCodeInput,
        responses={204: None, **_errors(400, 401, 409, 429)},
    )
    def post(self, request):
        from accounts.authenticator import authenticator_enrol_confirm

        data = AuthenticatorCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        authenticator_enrol_confirm(user=request.user, code=data.validated_data["code"])
        return Response(status=status.HTTP_204_NO_CONTENT)
