"""The security tests reuse the auth API client of tests/accounts."""

from tests.accounts.conftest import api  # noqa: F401
from tests.payments.conftest import make_sandbox  # noqa: F401
from tests.trading.conftest import external_method  # noqa: F401
