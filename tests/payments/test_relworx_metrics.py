"""Every Relworx request attempt is timed by endpoint and outcome."""

from decimal import Decimal

import pytest

from payments.relworx import RelworxClient, RelworxRejected
from tests.test_metrics import scrape, value

pytestmark = pytest.mark.django_db


def test_relworx_requests_are_timed_by_endpoint_and_outcome(client, make_sandbox):
    sandbox = make_sandbox()
    endpoint = "mobile-money/request-payment"
    before = scrape(client)
    relworx = RelworxClient.from_settings()
    relworx.request_payment(
        reference="metrics-test-0001",
        msisdn="+256770000001",
        amount=Decimal("5000"),
        currency="UGX",
        description="metrics",
    )
    with pytest.raises(RelworxRejected):
        relworx.request_payment(
            reference="metrics-test-0002",
            msisdn="+256770000008",
            amount=Decimal("5000"),
            currency="UGX",
            description="metrics",
        )
    relworx.close()
    after = scrape(client)
    for outcome in ("ok", "rejected"):
        name = "dtx_relworx_request_seconds_count"
        grew = value(after, name, endpoint=endpoint, outcome=outcome) - value(
            before, name, endpoint=endpoint, outcome=outcome
        )
        assert grew == 1, outcome
    assert len(sandbox.requests) == 1  # the refused one was never recorded
