"""Wallet tests: the Relworx sandbox as a real local server (payments' fixtures)."""

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, fund_reserves, set_prices
from tests.payments.conftest import make_sandbox, sandbox  # noqa: F401 (fixtures)


@pytest.fixture
def relworx(make_sandbox):  # noqa: F811
    """The sandbox without webhooks reaching us (outcomes come by polling)."""
    return make_sandbox()


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def small_limits(settings, **per_kind):
    """Tier 1 with the given (daily, monthly) UGX limits per kind."""
    from decimal import Decimal

    tier1 = dict(settings.WALLET_LIMITS[1])
    for kind, (daily, monthly) in per_kind.items():
        tier1[kind] = (Decimal(daily), Decimal(monthly))
    settings.WALLET_LIMITS = {**settings.WALLET_LIMITS, 1: tier1}
