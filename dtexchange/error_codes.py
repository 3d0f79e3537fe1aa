"""The closed set of error codes the API answers with, per HTTP status.

A new code belongs here: the published schema lists these as enums, and the
contract test (tests/contract) fails on an answer the schema does not list.
Plain data (no imports) so that settings can name each tuple for
drf-spectacular's ENUM_NAME_OVERRIDES.
"""

ERRORS_400 = (
    "invalid_input",
    "malformed_request",
    "invalid_code",
    "unknown_currency",
    "invalid_currency_pair",
    "currency_not_supported",
    "invalid_amount",
    "too_many_decimals",
    "amount_too_small",
    "amount_below_minimum",
    "amount_above_maximum",
    "unknown_payment_method",
    "method_not_supported",
    "unsupported_trade_type",
    "invalid_from_currency",
    "invalid_phone_number",
    "unsupported_network",
    "invalid_idempotency_key",
    "invalid_voucher_code",
    "voucher_unavailable",
    "voucher_currency_mismatch",
    "amount_mismatch",
    "funding_currency_mismatch",
    "invalid_password",
)
ERRORS_401 = (
    "not_authenticated",
    "authentication_failed",
    "invalid_credentials",
    "invalid_token",
    "invalid_signature",
)
ERRORS_403 = (
    "permission_denied",
    "email_not_verified",
    "account_locked",
)
ERRORS_404 = (
    "not_found",
    "trade_not_found",
    "withdrawal_not_found",
    "payout_number_not_found",
)
ERRORS_405 = ("method_not_allowed",)
ERRORS_406 = ("not_acceptable",)
ERRORS_409 = (
    "conflict",
    "insufficient_balance",
    "insufficient_liquidity",
    "idempotency_key_reused",
    "quote_invalid",
    "quote_expired",
    "quote_mismatch",
    "quote_used",
    "stale_price",
    "trade_not_cancellable",
    "voucher_not_active",
    "price_moved",
    "payment_method_unavailable",
    "account_frozen",
    "erasure_blocked",
    "already_erased",
    "payout_number_unconfirmed",
    "not_awaiting_confirmation",
    "confirmation_expired",
    "withdrawal_not_cancellable",
    "security_cooldown",
    "authenticator_absent",
    "limit_exceeded",
)
ERRORS_415 = ("unsupported_media_type",)
ERRORS_429 = (
    "throttled",
    "too_many_payment_prompts",
)
ERRORS_500 = ("internal_error",)
ERRORS_503 = (
    "service_unavailable",
    "price_unavailable",
)

ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: ERRORS_400,
    401: ERRORS_401,
    403: ERRORS_403,
    404: ERRORS_404,
    405: ERRORS_405,
    406: ERRORS_406,
    409: ERRORS_409,
    415: ERRORS_415,
    429: ERRORS_429,
    500: ERRORS_500,
    503: ERRORS_503,
}
