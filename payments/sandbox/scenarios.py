"""The sandbox's test numbers: like test cards, each one scripts an outcome.

Any other valid MTN/Airtel number succeeds like ``+256770000001``. Listed in the
README; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    description: str
    collection: str = "success"  # final status of request-payment: success | failed | pending
    payout: str = "success"  # final status of send-payment
    message: str = ""
    webhooks: int = 1  # how many times the final webhook is sent (0: poll only)
    http_error_first: int | None = None  # first attempt answered with this status (state kept)
    reject: int | None = None  # refuse the request outright with this 4xx status
    amount_delta: int = 0  # the amount reported back differs from the one requested
    # A resend with the same reference is refused "duplicate reference" (4xx)
    # instead of getting the original answer (the docs allow both).
    duplicate_refused: bool = False


SCENARIOS: dict[str, Scenario] = {
    "+256770000001": Scenario("MTN: succeeds, one webhook"),
    "+256700000001": Scenario("Airtel: succeeds, one webhook"),
    "+256770000002": Scenario(
        "MTN: fails, insufficient funds",
        collection="failed",
        payout="failed",
        message="Insufficient funds on the subscriber's account.",
    ),
    "+256700000002": Scenario(
        "Airtel: the customer declines the prompt",
        collection="failed",
        payout="failed",
        message="Transaction declined by the customer.",
    ),
    "+256770000003": Scenario("MTN: succeeds but never sends a webhook (poll it)", webhooks=0),
    "+256770000004": Scenario("MTN: succeeds, the webhook is sent twice", webhooks=2),
    "+256770000005": Scenario(
        "MTN: stays pending forever, no webhook",
        collection="pending",
        payout="pending",
        webhooks=0,
    ),
    "+256770000006": Scenario(
        "MTN: collections succeed, payouts (send-payment) fail",
        payout="failed",
        message="Payout rejected by the network.",
    ),
    "+256770000007": Scenario(
        "MTN: the first attempt is accepted but answered 503; a retry with the same "
        "reference gets the original answer",
        http_error_first=503,
    ),
    "+256770000008": Scenario(
        "MTN: refused at once (400), the number is not registered for mobile money",
        reject=400,
        message="The phone number is not registered for mobile money.",
    ),
    "+256770000009": Scenario(
        "MTN: succeeds, but 100 UGX less arrives than was requested", amount_delta=-100
    ),
    "+256770000010": Scenario(
        "MTN: the first attempt is accepted but answered 503; a resend with the same "
        "reference is refused 409 'duplicate reference' (the request still succeeds)",
        http_error_first=503,
        duplicate_refused=True,
        webhooks=0,
    ),
    "+256770000011": Scenario(
        "MTN: the status check reports request_status 'processing', a value the docs "
        "do not list (flagged for a person, never settled)",
        collection="processing",
        payout="processing",
        webhooks=0,
    ),
}

# Sandbox switches (POST /sandbox/switches {"name": value}; GET /sandbox lists them):
SWITCHES: dict[str, str] = {
    "ip_blocked": "every API call is answered 403 'no authorized IP'",
    "api_disabled": "every API call is answered 403 error_code API_DISABLED",
    "account_disabled": "every API call is answered 403 error_code ACCOUNT_DISABLED",
    "rate_limited": "every API call is answered 429 with Retry-After: 30",
    "float": "the wallet's float in UGX (default 10000000); a payout above it waits",
    "status_is_transaction": "check-request-status's `status` is the transaction's status "
    "(default: the call's, 'success', with the transaction's in `request_status`)",
    "no_request_status": "check-request-status answers without `request_status`",
    "balance_as_string": "check-wallet-balance sends the balance as a string",
    "validate_mtn": "validate also names MTN numbers (the docs: Airtel only)",
    "latency": "every API call is answered after this many seconds (a slow Relworx)",
}

DEFAULT = Scenario("Any other number: succeeds, one webhook")


def scenario_for(msisdn: str) -> Scenario:
    return SCENARIOS.get(msisdn, DEFAULT)
