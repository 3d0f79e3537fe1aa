"""Wallet tests: the Relworx sandbox as a real local server (payments' fixtures)."""

import pytest

from tests.payments.conftest import make_sandbox, sandbox  # noqa: F401 (fixtures)


@pytest.fixture
def relworx(make_sandbox):  # noqa: F811
    """The sandbox without webhooks reaching us (outcomes come by polling)."""
    return make_sandbox()
