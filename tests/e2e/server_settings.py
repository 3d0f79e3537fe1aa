"""Settings of the Daphne server that the browser tests start in a subprocess:
the test settings, plus mail written to files the test process can read (the
locmem outbox of tests.settings lives in the server's memory, out of reach)."""

import os

from tests.settings import *  # noqa: F403

MAILERS = {
    "default": {
        "BACKEND": "dtexchange.mail.EmlFileBackend",
        "OPTIONS": {"file_path": os.environ["E2E_MAIL_DIR"]},
    }
}

# Serve pages as production does (friendly 404/500, no debug pages), while the
# HTTP-only cookies and the rest stay as the test profile set them.
DEBUG = False

# A person in the browser tests takes a while between setting prices and
# confirming on a busy test host: quotes may use a price up to a minute old
# (production: QUOTE_PRICE_MAX_AGE_SECONDS, 20).
from datetime import timedelta  # noqa: E402

QUOTE_PRICE_MAX_AGE = timedelta(seconds=60)
