"""OpenAPI schema generation (drf-spectacular) for the whole project."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


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


# --- The error envelope, for extend_schema(responses=...) in every app -------

_ERROR_TEXT = {
    400: "Bad input; the field at fault is named in details.",
    401: "Not signed in, or the credentials/token are not valid.",
    403: "Signed in but not allowed (e.g. email_not_verified).",
    404: "Not found, or not yours.",
    409: "Conflict with the current state.",
    429: "Too many requests; wait for the Retry-After header's seconds.",
}


class ApiErrorBody(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ApiError(serializers.Serializer):
    """``{"error": {"code", "message", "details"}}`` (dtexchange.errors)."""

    error = ApiErrorBody()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """``responses={200: Output, **error_responses(400, 401)}``."""
    return {s: OpenApiResponse(ApiError, description=_ERROR_TEXT[s]) for s in statuses}


class JWTScheme(SimpleJWTScheme):
    """The API's JWT authentication (accounts.authentication) is simplejwt's
    with a cheaper user lookup: the same bearer scheme in the schema."""

    target_class = "accounts.authentication.JWTAuthentication"
