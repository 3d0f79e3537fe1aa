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
}

DEFAULT = Scenario("Any other number: succeeds, one webhook")


def scenario_for(msisdn: str) -> Scenario:
    return SCENARIOS.get(msisdn, DEFAULT)
