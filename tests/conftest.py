import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and cached prices live in Redis: start each test clean."""
    cache.clear()
    yield
