"""OpenAPI schema generation (drf-spectacular) for the whole project."""

import re
from decimal import Decimal

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from dtexchange.errors import InvalidInput


class AutoSchema(SpectacularAutoSchema):
    """Names components after the view that nests them.

    Every view here nests serializers named ``Input`` and ``Output``
    (CONVENTIONS); drf-spectacular would call them all "Input"/"Output" and
    warn about the clash. ``RegisterApi.Input`` becomes ``RegisterInput``.
    """

    def get_serializer_name(self, serializer, direction) -> str:
        qualname = type(serializer).__qualname__.replace("<locals>.", "")
        if "." not in qualname:
            return super().get_serializer_name(serializer, direction)
        parts = qualname.split(".")
        outer = [p.removesuffix("Api").removesuffix("View") or p for p in parts[:-1]]
        return "".join([*outer, parts[-1]])

    def get_override_parameters(self):
        # Every operation may answer 429/503 with Retry-After.
        return [*super().get_override_parameters(), RETRY_AFTER]


# --- Fields that say exactly what the API takes and gives -------------------

# A decimal string as the API reads it: digits, an optional point and
# decimals; no sign, exponent, spaces or JSON number (StrictInput and
# DecimalStringField refuse them). Precision per currency is a business rule
# the services check (400 too_many_decimals).
AMOUNT_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,18})?$"
# A decimal string as the API writes it (a change may be negative).
DECIMAL_OUT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


@extend_schema_field(
    {
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "maxLength": 39,
        "example": "250000",
        "description": "A positive decimal string (no sign, no exponent), at most the "
        "currency's precision in decimals: BTC 8, ETH 18, SOL 9, TRX 6, USD 2, UGX 0.",
    }
)
class DecimalStringField(serializers.Field):
    """An amount in a request: a JSON string of digits with an optional
    point (``"250000"``, ``"0.0015"``); a number, a sign, an exponent or
    spaces are refused (400), so what the schema allows is what the API takes."""

    default_error_messages = {
        "invalid": 'Enter the amount as a decimal string of digits, e.g. "250000" or "0.0015".',
    }
    _re = re.compile(AMOUNT_PATTERN)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not self._re.fullmatch(data):
            self.fail("invalid")
        return Decimal(data)

    def to_representation(self, value):
        return format(value, "f")


@extend_schema_field({"type": "string", "pattern": DECIMAL_OUT_PATTERN, "example": "0.00125000"})
class DecimalOut(serializers.CharField):
    """A decimal string in a response (exact, at the currency's precision)."""


class ClosedChoiceField(serializers.ChoiceField):
    """One of a closed set of strings (an enum in the schema), exactly as
    listed: no other case, no number. A wrong value is a 400 with
    ``error_code`` (a string, or a function of the value sent) so that the
    API keeps its specific codes (``unknown_currency``, ...)."""

    def __init__(self, *, choices, error_code="invalid_input", **kwargs):
        self.error_code = error_code
        super().__init__(choices=choices, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and data in self.choices:
            return data
        code = self.error_code(data) if callable(self.error_code) else self.error_code
        allowed = ", ".join(str(c) for c in self.choices)
        message = f"{self.field_name}: must be one of {allowed}."
        raise InvalidInput(message, code=code, details={self.field_name: [message]})

    def to_representation(self, value):
        return value


class QueryInput(serializers.Serializer):
    """Query parameters, read as the schema says: ``?fiat=`` is an empty
    value (refused by an enum), not an absent one (DRF's form semantics)."""

    def __init__(self, instance=None, data=empty, **kwargs):
        if data is not empty:
            data = {key: data.get(key) for key in data}
        super().__init__(instance, data=data, **kwargs)


class StrictInput(serializers.Serializer):
    """A request body that refuses fields it does not declare (400
    ``invalid_input``, the field named in details): a mistyped
    ``payment_detail`` must not be silently ignored where money moves. The
    schema says ``additionalProperties: false``."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# --- The error envelope, for extend_schema(responses=...) in every app -------

_ERROR_TEXT = {
    400: "Bad input; the field at fault is named in details.",
    401: "Not signed in, or the credentials/token are not valid.",
    403: "Signed in but not allowed (e.g. email_not_verified).",
    404: "Not found, or not yours.",
    405: "This method is not allowed here; the Allow header lists those that are.",
    406: "The Accept header asks for something other than JSON.",
    409: "Conflict with the current state (balance, quote, trade status, reuse of a key).",
    415: "The body is not JSON.",
    429: "Too many requests; wait for the Retry-After header's seconds.",
    500: "An unexpected error on our side; the message says whether anything may have "
    "gone through.",
    503: "A dependency (database, Redis, the price feed) is unreachable; retry after "
    "Retry-After seconds.",
}

from dtexchange.error_codes import ERROR_CODES  # noqa: E402

# Every operation can answer these (content negotiation, throttling at the
# proxy or the app, a bug, an outage).
COMMON_ERRORS = (405, 406, 429, 500, 503)


def _error_serializer(status: int) -> type[serializers.Serializer]:
    body = type(
        f"ApiError{status}Body",
        (serializers.Serializer,),
        {
            "code": serializers.ChoiceField(choices=ERROR_CODES[status]),
            "message": serializers.CharField(help_text="For people; may change."),
            "details": serializers.DictField(
                help_text="Field name -> list of messages for bad input; other facts "
                "(e.g. retry_after_seconds, available) otherwise."
            ),
            "__doc__": f"The error of a {status} answer.",
        },
    )
    return type(
        f"ApiError{status}",
        (serializers.Serializer,),
        {"error": body(), "__doc__": '{"error": {"code", "message", "details"}}'},
    )


_ERROR_SERIALIZERS = {status: _error_serializer(status) for status in ERROR_CODES}


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    location=OpenApiParameter.HEADER,
    response=[429, 503],
    required=False,
    description="Seconds to wait before trying again.",
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """``responses={200: Output, **error_responses(400, 401)}``: the given
    statuses plus those every operation can answer (COMMON_ERRORS)."""
    wanted = sorted(set(statuses) | set(COMMON_ERRORS))
    return {s: OpenApiResponse(_ERROR_SERIALIZERS[s], description=_ERROR_TEXT[s]) for s in wanted}


class JWTScheme(SimpleJWTScheme):
    """The API's JWT authentication (accounts.authentication) is simplejwt's
    with a cheaper user lookup: the same bearer scheme in the schema."""

    target_class = "accounts.authentication.JWTAuthentication"


class StrictInputExtension(OpenApiSerializerExtension):
    """StrictInput refuses undeclared fields: the schema says so."""

    target_class = StrictInput
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}
