"""One error type for the domain, one envelope for the API.

Every API error leaves as ``{"error": {"code", "message", "details"}}`` with the
right status: our DomainErrors, DRF's own (validation, auth, throttling),
Django's ValidationError and Http404. Apps subclass DomainError
(``InsufficientBalance``, ``QuoteExpired``, ...).
"""

from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

log = structlog.get_logger(__name__)


class DomainError(Exception):
    code = "error"
    message = "The request could not be completed."
    status = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ):
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        super().__init__(self.message)


class InvalidInput(DomainError):
    code = "invalid_input"
    status = status.HTTP_400_BAD_REQUEST


class NotFound(DomainError):
    code = "not_found"
    message = "Not found."
    status = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    code = "conflict"
    status = status.HTTP_409_CONFLICT


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_DRF_CODES = {
    drf_exceptions.ValidationError: "invalid_input",
    drf_exceptions.ParseError: "malformed_request",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "throttled",
}


def _drf_code(exc: drf_exceptions.APIException) -> str:
    # A permission or view may raise with its own code (e.g. IsVerified's
    # "email_not_verified"); keep it. Authentication failures keep one code so
    # that nothing tells an attacker why a token was refused.
    own = getattr(exc.detail, "code", None)
    if (
        isinstance(own, str)
        and own != exc.default_code
        and not isinstance(exc, drf_exceptions.AuthenticationFailed)
    ):
        return own
    for cls in type(exc).__mro__:
        if cls in _DRF_CODES:
            return _DRF_CODES[cls]
    return "error"


def _validation_details(detail: Any) -> dict:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def _flatten(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _flatten(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_flatten(v) for v in value]
    return str(value)


def _first_message(details: dict) -> str:
    for field, messages in details.items():
        first = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(first, dict):
            return _first_message(first)
        if field == "non_field_errors":
            return str(first)
        return f"{field}: {first}"
    return "Invalid input."


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
        if exc.status == status.HTTP_429_TOO_MANY_REQUESTS and "retry_after_seconds" in exc.details:
            response["Retry-After"] = str(exc.details["retry_after_seconds"])
        return response
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = drf_exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        set_rollback()
        return unexpected_error_response(exc, getattr(request, "request_id", ""))
    code = _drf_code(exc)
    if isinstance(exc, drf_exceptions.ValidationError):
        details = _validation_details(exc.detail)
        message = _first_message(details)
    else:
        details = {}
        message = str(exc.detail) if not isinstance(exc.detail, dict | list) else code
        if isinstance(exc, drf_exceptions.AuthenticationFailed):
            # simplejwt says which check failed ("Token is expired", "blacklisted",
            # the token classes tried); the client only needs to sign in again.
            message = "The credentials or token are not valid. Sign in again."
        if isinstance(exc, drf_exceptions.Throttled) and exc.wait is not None:
            details = {"retry_after_seconds": int(exc.wait + 0.999)}
    response.data = error_body(code, message, details)
    return response


# --- Unexpected errors ---------------------------------------------------------
# A database or Redis that cannot be reached is an outage, not a bug: the
# client is told to come back (503 + Retry-After). Anything else unexpected is
# a bug: 500 with the request id, which is on every log line of the request.


def _unavailable_types() -> tuple[type[BaseException], ...]:
    from django.db.utils import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, BrokerError)


def is_service_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database, Redis or the
    task broker cannot be reached."""
    kinds = _unavailable_types()
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kinds):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# Said only when the request committed nothing (dtexchange.commit_watch);
# otherwise the client is told to look before trying again.
NOTHING_CHARGED = "Nothing was charged"
MAYBE_SAVED = (
    "Part of your request may already have gone through: check your trades and "
    "balances before trying again"
)


def unexpected_error_body(exc: BaseException | None, request_id: str) -> tuple[dict, int]:
    from dtexchange.commit_watch import request_committed

    nothing_committed = request_committed() is False
    if exc is not None and is_service_unavailable(exc):
        tail = f"{NOTHING_CHARGED}; try again shortly." if nothing_committed else f"{MAYBE_SAVED}."
        return (
            error_body(
                "service_unavailable",
                f"The service is briefly unavailable. {tail}",
                {"request_id": request_id},
            ),
            503,
        )
    tail = f"{NOTHING_CHARGED}." if nothing_committed else f"{MAYBE_SAVED}."
    return (
        error_body(
            "internal_error",
            f"Something went wrong on our side. {tail}",
            {"request_id": request_id},
        ),
        500,
    )


def retry_after_seconds() -> int:
    return int(getattr(settings, "SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS", 5))


def unexpected_error_response(exc: BaseException, request_id: str) -> Response:
    """The envelope for an exception nothing else handled, logged with its
    traceback (the API's answer replaces Django's 500 handler, which would
    have logged it)."""
    body, status_code = unexpected_error_body(exc, request_id)
    if status_code == 503:
        log.warning("api.service_unavailable", error=f"{type(exc).__name__}: {exc}"[:500])
        return Response(body, status=503, headers={"Retry-After": str(retry_after_seconds())})
    log.error("api.internal_error", exc_info=exc)
    return Response(body, status=500)
