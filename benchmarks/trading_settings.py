"""Settings of benchmarks/trading_api.py: the production profile (the
environment the driver sets: PostgreSQL, Redis, DEBUG off, a generated
SECRET_KEY) plus one extra route, the minimal locked-transfer endpoint used as
the ceiling the trading API is compared with."""

from dtexchange.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.trading_urls"
