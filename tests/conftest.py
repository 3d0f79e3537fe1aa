import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and cached prices live in Redis: start each test clean."""
    from switches.selectors import switches_forget_local
    from trading.services.prices import prices_forget_local

    cache.clear()
    prices_forget_local()  # this process's copy of the cached prices too
    switches_forget_local()  # and of the stop switches
    yield
