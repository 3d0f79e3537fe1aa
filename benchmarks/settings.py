"""Settings for benchmarks/ledger_posting.py: the test profile (PostgreSQL),
its own database, and django-hordak installed for the comparison."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dtx_bench_ledger")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "mptt", "hordak"]
HORDAK_CURRENCIES = ["USD"]
HORDAK_INTERNAL_CURRENCY = "USD"
DATABASES["default"]["CONN_MAX_AGE"] = None  # one connection for the whole run
DEBUG = False  # no per-query logging: measure the code, not the debug cursor
