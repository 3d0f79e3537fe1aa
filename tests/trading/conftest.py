"""Fixtures of the trading tests: fresh fixed prices, funded reserves, a
verified customer with an API client."""

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, fund_reserves, set_prices


@pytest.fixture
def prices():
    set_prices()


@pytest.fixture
def reserves():
    fund_reserves()


@pytest.fixture
def customer():
    return UserFactory()


@pytest.fixture
def api(customer):
    client = APIClient()
    client.force_authenticate(customer)
    return client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def external_method():
    from tests.factories import ExternalTestMethod
    from trading import payment_methods

    method = ExternalTestMethod.build()
    payment_methods.register(method)
    yield method
    payment_methods.unregister(method.code)
