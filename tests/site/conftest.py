"""Fixtures of the site tests: fixed prices, funded reserves, a signed-in
verified customer (session auth, as in the browser)."""

import pytest

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
def signed_in(client, customer):
    client.force_login(customer)
    return client
