"""DT Exchange settings, driven by the environment (django-environ).

Two profiles, chosen by DTX_PROFILE; both run on PostgreSQL and Redis:
* embedded (the default) — nothing to set: the private PostgreSQL and Redis
  that `make run` starts (or DATABASE_URL / REDIS_URL), mail written to
  var/mail/, simulated prices and the local Relworx sandbox;
* production — DATABASE_URL, REDIS_URL, SECRET_KEY, ... set: real servers and
  providers, DEBUG off.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("DTX_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# The profile is one explicit setting, never guessed from other variables:
# "embedded" (the default: `make run`, the tests, a developer's machine) or
# "production" (real servers and providers; DEBUG off unless asked for).
# Code that must behave differently in production asks for
# ``settings.DTX_PROFILE == "production"``.
DTX_PROFILES = ("embedded", "production")
DTX_PROFILE = env.str("DTX_PROFILE", default="embedded")
if DTX_PROFILE not in DTX_PROFILES:
    raise ImproperlyConfigured(
        f"DTX_PROFILE={DTX_PROFILE!r}: must be one of {', '.join(DTX_PROFILES)}."
    )
if DTX_PROFILE == "production":
    _missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            f"DTX_PROFILE=production needs {' and '.join(_missing)}: the production profile "
            "never starts servers of its own."
        )

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - marker, refused in prod
DEBUG = env.bool("DEBUG", default=DTX_PROFILE == "embedded")
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)


def _refuse_insecure_secret(secret_key: str, debug: bool) -> None:
    if not debug and (not secret_key or secret_key == DEFAULT_SECRET_KEY or len(secret_key) < 32):
        raise ImproperlyConfigured(
            "SECRET_KEY is missing, default or shorter than 32 characters; "
            "production (DEBUG off) refuses to start without a real secret."
        )


_refuse_insecure_secret(SECRET_KEY, DEBUG)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    # Django's admin with the staff site (password + authenticator app).
    "accounts.admin_config.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "anymail",
    "notifications",
    "audit",
    "switches",
    "accounts",
    "ledger",
    "trading",
    "wallet",
    "payments",
    "vouchers",
    "operations",
]

MIDDLEWARE = [
    "dtexchange.metrics.MetricsMiddleware",
    "dtexchange.middleware.RequestIdMiddleware",
    "dtexchange.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.receivers.DeviceCookieMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dtexchange.urls"
WSGI_APPLICATION = "dtexchange.wsgi.application"
ASGI_APPLICATION = "dtexchange.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- PostgreSQL and Redis, in every profile ----------------------------------
# DATABASE_URL / REDIS_URL name the servers. In the embedded profile, what is
# not set comes from var/servers.json, written by the one process that owns
# the private servers (`make run`, dtexchange/embedded.py); reading it starts
# nothing, and without a running `make run` this stops with a message saying
# to start it.
DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
if DTX_PROFILE == "embedded" and not (DATABASE_URL and REDIS_URL):
    from dtexchange import embedded as _embedded

    _servers = _embedded.running_state(VAR_DIR)
    DATABASE_URL = DATABASE_URL or _servers.get("database_url", "")
    REDIS_URL = REDIS_URL or _servers.get("redis_url", "")
    if not (DATABASE_URL and REDIS_URL):
        raise _embedded.EmbeddedServersNotRunning(_embedded.not_running_message(VAR_DIR))

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Prepared statements: psycopg binds parameters server-side and prepares
# a statement the 5th time a connection runs it, so PostgreSQL stops
# parsing and planning the trading API's statements on every request
# (~40 % of the database's CPU per trade, benchmarks/README.md). Needs a
# direct connection or PgBouncer >= 1.21 with max_prepared_statements;
# DATABASE_PREPARE_THRESHOLD=0 turns preparing off (e.g. behind an older
# transaction-mode pooler). Restart the app after migrations, as for any
# deploy: a prepared statement over an altered table is refused.
_prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
DATABASES["default"].setdefault("OPTIONS", {}).update(
    server_side_binding=_prepare_threshold > 0,
    prepare_threshold=_prepare_threshold or None,
)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: the cache (and rate limits), the channel layer, the Celery broker.
CACHES = {
    "default": {
        "BACKEND": "dtexchange.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="dtx"),
        # A Redis that stops answering (a frozen host, a dropped network)
        # fails a request within seconds (503) instead of holding a worker
        # forever; a healthy Redis answers the cache's commands in well
        # under a millisecond.
        "OPTIONS": {
            "socket_connect_timeout": env.float(
                "REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS", default=2.0
            ),
            "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=3.0),
        },
    }
}
# Redis pub/sub layer: one subscription per Daphne process per group, fanned
# out to that process's sockets in memory (channels_redis's core layer did a
# Redis round trip per socket per group message: 1,000 sockets measured p99
# 385 ms, benchmarks/README.md). Live updates are best-effort by design: the
# outbox is the durable record, pages re-read state on reconnect.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": env.str("CHANNEL_PREFIX", default="dtx:asgi"),
        },
    }
}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)

# --- Celery ---------------------------------------------------------------
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The worker logs through the project's logging (JSON lines with the request
# id, like the web's), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat cannot create the folder of its schedule file: a production node from a
# fresh checkout (no var/ yet) would have its beat exit at start.
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/"

OTP_CODE_TTL = timedelta(minutes=env.int("OTP_CODE_TTL_MINUTES", default=10))
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
OTP_RESEND_INTERVAL = timedelta(seconds=env.int("OTP_RESEND_INTERVAL_SECONDS", default=60))
# django-otp ThrottlingMixin: after n wrong codes, wait FACTOR * 2**(n-1) seconds
# before the next try (1, 2, 4, 8 s); OTP_MAX_ATTEMPTS then spends the code.
OTP_THROTTLE_FACTOR = env.int("OTP_THROTTLE_FACTOR", default=1)
# Every emailed code (sign-up, confirmations): at most this many wrong codes
# per address per day, across codes (accounts.codes). 20 a day leaves a
# guesser of 6 digits a 1-in-50,000 chance per day.
EMAIL_CODE_MAX_FAILURES_PER_DAY = env.int("EMAIL_CODE_MAX_FAILURES_PER_DAY", default=20)
CELERY_BEAT_SCHEDULE["accounts-email-code-failures-prune"] = {
    "task": "accounts.tasks.email_code_failures_prune_task",
    "schedule": 3600.0,
}

# Staff authenticator apps (TOTP, accounts/staff_otp.py): the name the app
# shows, and how long an enrolment link works.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="DT Exchange")
STAFF_TOTP_ENROL_HOURS = env.int("STAFF_TOTP_ENROL_HOURS", default=24)
# "Was this you?" emails carry a link to lock the account, valid this long.
ACCOUNT_LOCK_LINK_DAYS = env.int("ACCOUNT_LOCK_LINK_DAYS", default=7)

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],  # the API speaks JSON only
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "dtexchange.schema.AutoSchema",
    "EXCEPTION_HANDLER": "dtexchange.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # The same value as NUM_PROXIES below (dtexchange.client_ip decides).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "auth_ip": env.str("THROTTLE_AUTH_IP", default="30/min"),
        "auth_account": env.str("THROTTLE_AUTH_ACCOUNT", default="10/min"),
        "otp": env.str("THROTTLE_OTP", default="10/min"),
        "voucher_validate": env.str("THROTTLE_VOUCHER_VALIDATE", default="20/min"),
        "trading": env.str("THROTTLE_TRADING", default="120/min"),
        "withdrawals": env.str("THROTTLE_WITHDRAWALS", default="30/min"),
        # Anonymous /calculate (the public calculator), per client address.
        "calculate_anon": env.str("THROTTLE_CALCULATE_ANON", default="30/min"),
        # Per client address, and Relworx posts every webhook from a few
        # addresses: 600/min (10/s sustained) is ~10x the peak we expect (one
        # or two webhooks per payment, plus Relworx's retries, at a few
        # payments a second). A throttled real webhook is not lost: Relworx
        # retries and our poller asks for the status anyway.
        "relworx_webhook": env.str("THROTTLE_RELWORX_WEBHOOK", default="600/min"),
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DT Exchange API",
    "DESCRIPTION": "Buy and sell BTC, ETH, SOL and TRX with mobile money, bank deposits, "
    "vouchers or crypto. Errors use one envelope: "
    '{"error": {"code", "message", "details"}}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI / ReDoc from the drf-spectacular-sidecar package (static files),
    # not a CDN: /api/docs/ must work with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Closed sets get named enums (a generated client gets real types).
    "ENUM_NAME_OVERRIDES": {
        "CurrencyEnum": ["BTC", "ETH", "SOL", "TRX", "USD", "UGX"],
        "CryptoCurrencyEnum": ["BTC", "ETH", "SOL", "TRX"],
        "FiatCurrencyEnum": ["USD", "UGX"],
        "TradeTypeEnum": ["buy", "sell"],
        "TradeStatusEnum": "trading.models.trades.TradeStatus",
        "WithdrawalMethodEnum": ["mobile_money", "bank"],
        "TopUpMethodEnum": ["mobile_money", "bank_deposit"],
        "RoleEnum": "accounts.roles.ROLES",
        **{
            f"Error{status}CodeEnum": f"dtexchange.error_codes.ERRORS_{status}"
            for status in (400, 401, 403, 404, 405, 406, 409, 415, 429, 500, 503)
        },
    },
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
}

# --- Money: fees and limits . Settings, not literals. ------------
FEE_RATES = {  # its keys are the closed set of payment methods (PaymentMethodEnum)
    "mobile_money": Decimal(env.str("FEE_MOBILE_MONEY", default="0.025")),
    "bank_deposit": Decimal(env.str("FEE_BANK_DEPOSIT", default="0.015")),
    "voucher": Decimal(env.str("FEE_VOUCHER", default="0.010")),
    "crypto": Decimal(env.str("FEE_CRYPTO", default="0.005")),
    "balance": Decimal(env.str("FEE_BALANCE", default="0.005")),
}
# Per method and fiat: (minimum, maximum) of the fiat amount of one trade.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["PaymentMethodEnum"] = list(FEE_RATES)
PAYMENT_LIMITS = {
    "mobile_money": {"UGX": (Decimal("500"), Decimal("5000000"))},
    "bank_deposit": {
        "UGX": (Decimal("10000"), Decimal("200000000")),
        "USD": (Decimal("10"), Decimal("50000")),
    },
    "voucher": {
        "UGX": (Decimal("1000"), Decimal("10000000")),
        "USD": (Decimal("1"), Decimal("5000")),
    },
    "balance": {
        "UGX": (Decimal("500"), Decimal("200000000")),
        "USD": (Decimal("1"), Decimal("50000")),
    },
}
QUOTE_TTL = timedelta(seconds=env.int("QUOTE_TTL_SECONDS", default=30))
# A quote is an option the house gives away: it is built only on a price
# whose crypto leg is at most this old (so is a re-priced bank deposit), and
# is executed only while the price has not moved against the house by more
# than QUOTE_PRICE_TOLERANCE (a fraction: 0.005 = 0.5 %) since
# (trading.services.quotes). The feeds keep the crypto leg younger than this
# at every beat tick (trading/services/price_feeds.py).
QUOTE_PRICE_MAX_AGE = timedelta(seconds=env.int("QUOTE_PRICE_MAX_AGE_SECONDS", default=20))
QUOTE_PRICE_TOLERANCE = Decimal(env.str("QUOTE_PRICE_TOLERANCE", default="0.005"))
# Expired, unused quotes are deleted this long after expiry by beat.
QUOTE_PURGE_AFTER = timedelta(minutes=env.int("QUOTE_PURGE_AFTER_MINUTES", default=10))
CELERY_BEAT_SCHEDULE["trading-quotes-purge"] = {
    "task": "trading.tasks.quotes_purge_expired_task",
    "schedule": env.float("QUOTE_PURGE_EVERY_SECONDS", default=300.0),
}
PRICE_PROVIDER = env.str("PRICE_PROVIDER", default="simulated")  # or "http"
PRICE_HTTP_URL = env.str("PRICE_HTTP_URL", default="")
# Prices and their ages, one consistent set (README "Prices"):
# * beat refreshes every PRICE_REFRESH_SECONDS (5 s);
# * a quote needs a crypto leg at most QUOTE_PRICE_MAX_AGE (20 s) old, so a
#   provider's answer is used again only while it is younger than 20 - 5 =
#   15 s, and the next provider is asked otherwise;
# * prices are still shown (and stale, no trading, after) PRICE_MAX_AGE (60 s);
# * CoinGecko is called at most once per max(its 60 s cache, 30 days /
#   PRICE_HTTP_CALLS_PER_MONTH) = ~260 s on the Demo plan (10,000 calls a
#   month; its ~30 a minute never bind), the FX API once per FX_REFRESH_SECONDS.
PRICE_MAX_AGE = timedelta(seconds=env.int("PRICE_MAX_AGE_SECONDS", default=60))
PRICE_REFRESH_SECONDS = env.int("PRICE_REFRESH_SECONDS", default=5)
if not PRICE_REFRESH_SECONDS < QUOTE_PRICE_MAX_AGE.total_seconds() <= PRICE_MAX_AGE.total_seconds():
    raise ImproperlyConfigured(
        "Prices need PRICE_REFRESH_SECONDS < QUOTE_PRICE_MAX_AGE_SECONDS <= PRICE_MAX_AGE_SECONDS "
        f"(now {PRICE_REFRESH_SECONDS}, {int(QUOTE_PRICE_MAX_AGE.total_seconds())}, "
        f"{int(PRICE_MAX_AGE.total_seconds())}): a price must be refreshed before it is too old "
        "for a quote, and a price good for a quote must still be shown."
    )
# A failing price or FX provider is called again after PRICE_FEED_BACKOFF_SECONDS,
# then twice as long after each further failure, at most
# PRICE_FEED_BACKOFF_MAX_SECONDS (the FX leg at most FX_REFRESH_SECONDS); a 429
# waits its Retry-After when it has one.
PRICE_FEED_BACKOFF_SECONDS = env.float("PRICE_FEED_BACKOFF_SECONDS", default=10.0)
PRICE_FEED_BACKOFF_MAX_SECONDS = env.float("PRICE_FEED_BACKOFF_MAX_SECONDS", default=300.0)
# Each web process keeps its copy of the price snapshot this long
# (trading.services.prices.prices_snapshot); 0 reads Redis every time.
PRICE_LOCAL_CACHE_SECONDS = env.float("PRICE_LOCAL_CACHE_SECONDS", default=0.5)
TRADE_PENDING_TTL = timedelta(minutes=env.int("TRADE_PENDING_TTL_MINUTES", default=30))
BANK_DEPOSIT_TTL = timedelta(days=env.int("BANK_DEPOSIT_TTL_DAYS", default=3))
# A bank deposit approved later than this after its order (or for another
# amount) is priced at the price of the approval, not the order's.
BANK_DEPOSIT_PRICE_HOLD = timedelta(minutes=env.int("BANK_DEPOSIT_PRICE_HOLD_MINUTES", default=30))

# --- Trading: price provider and refresh (owner: trading) ------------------
# HTTP provider (PRICE_PROVIDER=http, trading/services/price_feeds.py): crypto
# in USD from a CoinGecko-compatible API at PRICE_HTTP_URL (e.g.
# https://api.coingecko.com/api/v3), fallback a Binance-compatible one at
# PRICE_FALLBACK_URL (e.g. https://api.binance.com); UGX through a USD→UGX rate
# from an ExchangeRate-API-compatible FX API at FX_HTTP_URL (the base before
# /v6, e.g. https://open.er-api.com; FX_HTTP_API_KEY for the keyed form),
# fallback FX_FALLBACK_URL. Bounded retries per call.
PRICE_HTTP_TIMEOUT_SECONDS = env.float("PRICE_HTTP_TIMEOUT_SECONDS", default=5.0)
PRICE_HTTP_RETRIES = env.int("PRICE_HTTP_RETRIES", default=2)
PRICE_HTTP_API_KEY = env.str("PRICE_HTTP_API_KEY", default="")
# CoinGecko's plan: calls a month (Demo: 10,000, i.e. one call every ~260 s;
# CoinGecko caches /simple/price 60 s, so never more often than that).
PRICE_HTTP_CALLS_PER_MONTH = env.int("PRICE_HTTP_CALLS_PER_MONTH", default=10000)
PRICE_FALLBACK_URL = env.str("PRICE_FALLBACK_URL", default="")
FX_HTTP_URL = env.str("FX_HTTP_URL", default="")
FX_HTTP_API_KEY = env.str("FX_HTTP_API_KEY", default="")
FX_FALLBACK_URL = env.str("FX_FALLBACK_URL", default="")
FX_FALLBACK_API_KEY = env.str("FX_FALLBACK_API_KEY", default="")
# FX APIs publish hourly or daily: the rate is fetched once an hour and may be
# this old (its provider's own update time) before UGX prices count as stale.
FX_REFRESH_SECONDS = env.int("FX_REFRESH_SECONDS", default=3600)
FX_MAX_AGE = timedelta(seconds=env.int("FX_MAX_AGE_SECONDS", default=30 * 3600))
if PRICE_PROVIDER == "http" and not DEBUG:
    _missing = [
        name
        for name, value in (
            ("PRICE_HTTP_URL", PRICE_HTTP_URL),
            ("PRICE_FALLBACK_URL", PRICE_FALLBACK_URL),
            ("FX_HTTP_URL", FX_HTTP_URL),
            ("FX_FALLBACK_URL", FX_FALLBACK_URL),
        )
        if not value
    ]
    if _missing:
        raise ImproperlyConfigured(
            "PRICE_PROVIDER=http in production needs a provider and a fallback for each "
            f"leg (crypto/USD and USD/UGX); missing: {', '.join(_missing)}."
        )
# Crypto-paid buys (swaps) are limited on the fiat value of the coin spent.
PAYMENT_LIMITS["crypto"] = {
    "USD": (Decimal(env.str("CRYPTO_MIN_USD", default="1")), Decimal("50000")),
    "UGX": (Decimal(env.str("CRYPTO_MIN_UGX", default="3600")), Decimal("180000000")),
}
CELERY_BEAT_SCHEDULE["trading-prices-refresh"] = {
    "task": "trading.tasks.prices_refresh_task",
    "schedule": float(PRICE_REFRESH_SECONDS),
    # A tick older than one period is useless: the next one is already due.
    "options": {"expires": float(PRICE_REFRESH_SECONDS)},
}

# --- Payments: Relworx ------------------------------------------
RELWORX_BASE_URL = env.str("RELWORX_BASE_URL", default="http://127.0.0.1:8010/api")
RELWORX_API_KEY = env.str("RELWORX_API_KEY", default="sandbox-api-key")
RELWORX_ACCOUNT_NO = env.str("RELWORX_ACCOUNT_NO", default="RELSANDBOX0001")
RELWORX_WEBHOOK_SECRET = env.str("RELWORX_WEBHOOK_SECRET", default="sandbox-webhook-secret")
RELWORX_WEBHOOK_URL = env.str(
    "RELWORX_WEBHOOK_URL", default=f"{SITE_URL}/api/payments/relworx/webhook"
)
RELWORX_TIMEOUT_SECONDS = env.float("RELWORX_TIMEOUT_SECONDS", default=15.0)
# --- Payments app: Relworx retries, webhook age, polling (owner: payments) --
# Bounded retries of one Relworx call (timeouts/5xx only), backoff doubling.
RELWORX_MAX_ATTEMPTS = env.int("RELWORX_MAX_ATTEMPTS", default=3)
RELWORX_RETRY_BACKOFF_SECONDS = env.float("RELWORX_RETRY_BACKOFF_SECONDS", default=0.5)
# Webhook signatures older (or further in the future) than this are refused.
RELWORX_WEBHOOK_MAX_AGE_SECONDS = env.int("RELWORX_WEBHOOK_MAX_AGE_SECONDS", default=300)
# Pending requests are polled once older than this, then with doubling gaps up
# to the maximum; polling stops (and reconciliation flags them) after GIVE_UP.
RELWORX_POLL_AFTER = timedelta(seconds=env.int("RELWORX_POLL_AFTER_SECONDS", default=60))
RELWORX_POLL_MAX_INTERVAL = timedelta(
    seconds=env.int("RELWORX_POLL_MAX_INTERVAL_SECONDS", default=1800)
)
RELWORX_POLL_GIVE_UP = timedelta(hours=env.int("RELWORX_POLL_GIVE_UP_HOURS", default=72))
# Collection prompts (the PIN request on a phone): per number, whoever asks,
# and per user, whatever the numbers (payments.services.mobile_money).
MOBILE_MONEY_PROMPTS_PER_NUMBER = env.int("MOBILE_MONEY_PROMPTS_PER_NUMBER", default=3)
MOBILE_MONEY_PROMPTS_PER_NUMBER_WINDOW = timedelta(
    minutes=env.int("MOBILE_MONEY_PROMPTS_PER_NUMBER_WINDOW_MINUTES", default=10)
)
MOBILE_MONEY_PROMPTS_PER_USER = env.int("MOBILE_MONEY_PROMPTS_PER_USER", default=10)
MOBILE_MONEY_PROMPTS_PER_USER_WINDOW = timedelta(
    minutes=env.int("MOBILE_MONEY_PROMPTS_PER_USER_WINDOW_MINUTES", default=60)
)
CELERY_BEAT_SCHEDULE["payments-poll-pending"] = {
    "task": "payments.tasks.mobile_money_poll_due",
    "schedule": env.float("RELWORX_POLL_EVERY_SECONDS", default=30.0),
}
CELERY_BEAT_SCHEDULE["payments-expire-trades"] = {
    "task": "payments.tasks.payment_trades_expire_task",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["payments-reconcile"] = {
    "task": "payments.tasks.mobile_money_reconcile_task",
    "schedule": env.float("PAYMENTS_RECONCILE_EVERY_SECONDS", default=900.0),
}
# Payout safeguards: the float must cover the payout plus this reserve (UGX).
RELWORX_FLOAT_RESERVE = Decimal(env.str("RELWORX_FLOAT_RESERVE_UGX", default="0"))
# Staff are told of a Relworx problem (refused key/IP, low float) once per this.
RELWORX_ALERT_EVERY_SECONDS = env.int("RELWORX_ALERT_EVERY_SECONDS", default=3600)
STAFF_ALERT_EMAIL = env.str(
    "STAFF_ALERT_EMAIL", default=env.str("SUPPORT_EMAIL", default="support@dtexchange.ug")
)
# Signed webhooks older than RELWORX_WEBHOOK_MAX_AGE_SECONDS are still taken
# within this window (Relworx retries up to 10 times with back-off, possibly
# keeping the first signature's time): a webhook only triggers a status check,
# so an old one cannot move money.
RELWORX_WEBHOOK_RETRY_WINDOW = timedelta(
    hours=env.int("RELWORX_WEBHOOK_RETRY_WINDOW_HOURS", default=72)
)
CELERY_BEAT_SCHEDULE["payments-relworx-health"] = {
    "task": "payments.tasks.relworx_health_check_task",
    "schedule": env.float("RELWORX_HEALTH_EVERY_SECONDS", default=300.0),
}
CELERY_BEAT_SCHEDULE["payments-statement-reconcile"] = {
    "task": "payments.tasks.relworx_statement_reconcile_task",
    "schedule": timedelta(days=1),
}
# Staff decisions that move more than this (per currency) need two different
# people: one proposes, another confirms (payments/services/four_eyes.py).
FOUR_EYES_THRESHOLDS = {
    "UGX": Decimal(env.str("FOUR_EYES_THRESHOLD_UGX", default="2000000")),
    "USD": Decimal(env.str("FOUR_EYES_THRESHOLD_USD", default="500")),
}
BANK_INSTRUCTIONS = {
    "bank_name": env.str("BANK_NAME", default="Stanbic Bank Uganda"),
    "account_name": env.str("BANK_ACCOUNT_NAME", default="DT Exchange Ltd"),
    "account_number": env.str("BANK_ACCOUNT_NUMBER", default="9030012345678"),
    "branch": env.str("BANK_BRANCH", default="Kampala Road"),
    "swift": env.str("BANK_SWIFT", default="SBICUGKX"),
}

# --- Wallet withdrawals (owner: wallet) -------------------------------------
# What a withdrawal costs, a fraction of its amount (the user's side, net, is
# rounded down; the fee is the remainder), and the bounds of one withdrawal
# per method and currency. Mobile money: Relworx's and the Bank of Uganda's
# per-transaction caps apply to what is sent (the net).
WITHDRAWAL_FEE_RATES = {
    "mobile_money": Decimal(env.str("WITHDRAWAL_FEE_MOBILE_MONEY", default="0.01")),
    "bank": Decimal(env.str("WITHDRAWAL_FEE_BANK", default="0.005")),
}
WITHDRAWAL_LIMITS = {
    "mobile_money": {"UGX": (Decimal("500"), Decimal("5000000"))},
    "bank": {
        "UGX": (Decimal("10000"), Decimal("200000000")),
        "USD": (Decimal("10"), Decimal("50000")),
    },
}
# A withdrawal not confirmed with the second factor in this time expires
# (its money goes back to the wallet).
WITHDRAWAL_CONFIRM_TTL = timedelta(minutes=env.int("WITHDRAWAL_CONFIRM_TTL_MINUTES", default=10))
# Wrong codes a withdrawal (or a payout number) takes before it is cancelled.
WITHDRAWAL_CODE_MAX_ATTEMPTS = env.int("WITHDRAWAL_CODE_MAX_ATTEMPTS", default=5)
# No withdrawal in this time after a password change or a change of authenticator.
WITHDRAWAL_COOLDOWN_AFTER_SECURITY_CHANGE = timedelta(
    hours=env.int("WITHDRAWAL_COOLDOWN_HOURS", default=24)
)
CELERY_BEAT_SCHEDULE["wallet-withdrawals-expire"] = {
    "task": "wallet.tasks.withdrawals_expire_task",
    "schedule": 60.0,
}

# --- The fiat wallet (owner: wallet) ---------------------------------------
# Per tier (0: email not verified, 1: verified, 2: identity checked by staff),
# per kind: (daily, monthly) in UGX-equivalent, East Africa Time calendar
# periods; and how many withdrawals an hour (wallet/limits.py).


def _limit_pair(name: str, daily: str, monthly: str) -> tuple[Decimal, Decimal]:
    return (
        Decimal(env.str(f"LIMIT_{name}_DAILY_UGX", default=daily)),
        Decimal(env.str(f"LIMIT_{name}_MONTHLY_UGX", default=monthly)),
    )


WALLET_LIMITS = {
    0: {
        "buy": (Decimal(0), Decimal(0)),
        "withdrawal": (Decimal(0), Decimal(0)),
        "top_up": (Decimal(0), Decimal(0)),
        "withdrawals_per_hour": 0,
    },
    1: {
        "buy": _limit_pair("TIER1_BUY", "20000000", "200000000"),
        "withdrawal": _limit_pair("TIER1_WITHDRAWAL", "10000000", "100000000"),
        "top_up": _limit_pair("TIER1_TOP_UP", "20000000", "200000000"),
        "withdrawals_per_hour": env.int("LIMIT_TIER1_WITHDRAWALS_PER_HOUR", default=5),
    },
    2: {
        "buy": _limit_pair("TIER2_BUY", "400000000", "4000000000"),
        "withdrawal": _limit_pair("TIER2_WITHDRAWAL", "200000000", "2000000000"),
        "top_up": _limit_pair("TIER2_TOP_UP", "400000000", "4000000000"),
        "withdrawals_per_hour": env.int("LIMIT_TIER2_WITHDRAWALS_PER_HOUR", default=20),
    },
}
# USD counts at the rate the price feed implies (a coin's UGX price over its
# USD price); this one only when there is no price at all.
LIMITS_UGX_PER_USD = Decimal(env.str("LIMITS_UGX_PER_USD", default="3700"))
# The longest statement one request returns, in days.
WALLET_STATEMENT_MAX_DAYS = env.int("WALLET_STATEMENT_MAX_DAYS", default=366)
CELERY_BEAT_SCHEDULE["wallet-expire-top-ups"] = {
    "task": "wallet.tasks.top_ups_expire_task",
    "schedule": 60.0,
}

# --- Vouchers (owner: vouchers) -------------------------------------------
# Codes are stored only as HMAC-SHA256 under VOUCHER_HASH_KEY (below): rotating
# that key makes every unredeemed voucher unusable, so it is set once per site.
VOUCHER_BATCH_MAX_COUNT = env.int("VOUCHER_BATCH_MAX_COUNT", default=1000)
VOUCHER_MAX_VALIDITY_DAYS = env.int("VOUCHER_MAX_VALIDITY_DAYS", default=3650)
# Active vouchers past their date become "expired" (and their liability is
# released) by this sweep; redemption re-checks the date anyway.
CELERY_BEAT_SCHEDULE["vouchers-expire-due"] = {
    "task": "vouchers.tasks.vouchers_expire_due",
    "schedule": timedelta(minutes=env.int("VOUCHER_EXPIRY_SWEEP_MINUTES", default=15)),
}

# --- Secrets for hashing and encryption at rest ----------------------------
VOUCHER_HASH_KEY = env.str("VOUCHER_HASH_KEY", default=SECRET_KEY)
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

# --- Email ------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("RESEND_FROM_EMAIL", default="DT Exchange <no-reply@dtexchange.ug>")
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@dtexchange.ug")
# Django 6.1 MAILERS (EMAIL_BACKEND/EMAIL_FILE_PATH are deprecated and may not
# be mixed with it). Production sends through Resend (anymail); the embedded
# default writes each message as one .eml file under var/mail/ that a mail
# client or a text editor opens.
if env.str("RESEND_API_KEY", default=""):
    MAILERS = {
        "default": {
            # anymail's Resend backend + the Idempotency-Key header (dtexchange/mail.py)
            "BACKEND": "dtexchange.mail.ResendEmailBackend",
            "OPTIONS": {
                "api_key": env.str("RESEND_API_KEY"),
                # Resend's own API unless a staging stand-in is named.
                **(
                    {"api_url": env.str("RESEND_API_URL")}
                    if env.str("RESEND_API_URL", default="")
                    else {}
                ),
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "dtexchange.mail.EmlFileBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }

# --- Notifications: outbox dispatch, live updates, email (owner: notify) ---
# Live deliveries are published by the Celery worker over the Redis channel
# layer; each Daphne process fans public events out to its own sockets.
# Off only where something else drives delivery (the sweep alone, tests).
OUTBOX_DISPATCH_ON_COMMIT = env.bool("OUTBOX_DISPATCH_ON_COMMIT", default=True)
# One queued dispatcher per web process per this many seconds; it polls the
# outbox for that long (notifications.tasks.outbox_dispatch). 0: one per commit.
OUTBOX_KICK_COALESCE_SECONDS = env.float("OUTBOX_KICK_COALESCE_SECONDS", default=0.1)
# A queued email send task owns its delivery this long; if the task is lost,
# the sweep queues it again afterwards (it is still sent at most once).
OUTBOX_EMAIL_CLAIM_SECONDS = env.int("OUTBOX_EMAIL_CLAIM_SECONDS", default=300)
OUTBOX_LIVE_SEND_TIMEOUT_SECONDS = env.float("OUTBOX_LIVE_SEND_TIMEOUT_SECONDS", default=5.0)
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=10)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
OUTBOX_RETRY_BASE_SECONDS = env.int("OUTBOX_RETRY_BASE_SECONDS", default=10)
OUTBOX_RETRY_MAX_SECONDS = env.int("OUTBOX_RETRY_MAX_SECONDS", default=3600)
OUTBOX_KEEP_DELIVERED = timedelta(hours=env.int("OUTBOX_KEEP_DELIVERED_HOURS", default=24))
WS_RATE_LIMIT_PER_SECOND = env.float("WS_RATE_LIMIT_PER_SECOND", default=5.0)
WS_RATE_LIMIT_BURST = env.int("WS_RATE_LIMIT_BURST", default=20)
WS_AUTH_GRACE_SECONDS = env.float("WS_AUTH_GRACE_SECONDS", default=1.0)
# The largest message a client may send; Daphne refuses bigger frames before
# buffering them (dtexchange/server_options.py passes it to Daphne).
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", default=4096)
# Open sockets per client address per Daphne process (dtexchange/websocket_gate.py);
# mobile networks put many people behind one address, so not too low.
WS_MAX_CONNECTIONS_PER_IP = env.int("WS_MAX_CONNECTIONS_PER_IP", default=50)
CELERY_BEAT_SCHEDULE["notifications.outbox_sweep"] = {
    "task": "notifications.outbox_sweep",
    "schedule": float(OUTBOX_SWEEP_SECONDS),
}

# --- Static, i18n -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Africa/Kampala"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# --- Security ----------------------------------------------------------------
# Who the client is (dtexchange/client_ip.py, the one place that decides): the
# X-Forwarded-For header is used only behind this many proxies of ours
# (production: 1); with 0 a client cannot forge its address. Clients in
# TRUSTED_NETWORKS (CIDR list) see internal details (/readyz, /metrics).
NUM_PROXIES = REST_FRAMEWORK["NUM_PROXIES"]
TRUSTED_NETWORKS = env.list("TRUSTED_NETWORKS", default=["127.0.0.0/8", "::1/128"])


def _refuse_bad_networks(networks: list[str]) -> None:
    import ipaddress

    for cidr in networks:
        try:
            ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_NETWORKS: {cidr!r} is not a network.") from exc


_refuse_bad_networks(TRUSTED_NETWORKS)
# The API's 503 (database or Redis unreachable) tells clients to come back after:
SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = env.int(
    "SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS", default=5
)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers and orchestrators probe over plain HTTP inside the
    # network; a redirect would read as "down".
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Customer site (owner: site): static files, Content-Security-Policy -----
# WhiteNoise serves /static/ from the web process itself (gunicorn in
# production, Daphne under `make run`), so no extra server is needed; in DEBUG
# it reads straight from STATICFILES_DIRS.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
# Served from the source folders (no collectstatic step to forget); re-scanned
# on every request only while developing.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Django's built-in CSP: scripts only from our own origin (no inline script, no
# eval); every page's JS is an ES module under static/js/. 'self' in
# connect-src also covers ws:/wss: to the same host (CSP level 3).
MIDDLEWARE.append("django.middleware.csp.ContentSecurityPolicyMiddleware")
TEMPLATES[0]["OPTIONS"]["context_processors"].append("django.template.context_processors.csp")
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Metrics (Prometheus; dtexchange/metrics.py) ----------------------------
# Multiprocess mode in every process: the client reads this variable when it
# is first imported, which is after these settings (dtexchange.metrics is
# imported by the middleware and the apps). The web processes of a node
# share the folder (served at /metrics); give the Celery worker its own (it
# serves it on CELERY_METRICS_PORT).
# Empty the folders before the node's processes start.
PROMETHEUS_MULTIPROC_DIR = env.str(
    "PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "metrics" / "web")
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# GET /metrics: the bearer token, or a client in TRUSTED_NETWORKS; else 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The Celery worker's own scrape port (unset: none) and address.
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
CELERY_METRICS_ADDRESS = env.str("CELERY_METRICS_ADDRESS", default="127.0.0.1")

# --- Analytics and alerts (operations/) ---------------------------------------
# The staff analytics page (/admin/analytics/): the period shown by default
# and the longest that may be chosen (each query is bounded by it).
ANALYTICS_DEFAULT_DAYS = env.int("ANALYTICS_DEFAULT_DAYS", default=30)
ANALYTICS_MAX_DAYS = env.int("ANALYTICS_MAX_DAYS", default=92)
ANALYTICS_MAIN_FIAT = "UGX"  # the volume chart shown when nothing completed
# Alerts (operations/alerts.py), checked by beat every ALERT_CHECK_EVERY_SECONDS
# and by `manage.py alerts_check` (the watchdog a timer runs outside Celery:
# it alone can see beat fall silent). Each open condition is one alert, sent
# to ALERT_EMAILS (and POSTed as JSON to ALERT_WEBHOOK_URL when set) once,
# again every ALERT_REPEAT_SECONDS while open, and once more when it clears.
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[STAFF_ALERT_EMAIL])
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_WEBHOOK_TIMEOUT_SECONDS = env.float("ALERT_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
ALERT_CHECK_EVERY_SECONDS = env.float("ALERT_CHECK_EVERY_SECONDS", default=60.0)
ALERT_REPEAT_SECONDS = env.int("ALERT_REPEAT_SECONDS", default=3600)
# How long a trade may stay pending or processing, per payment method. Past
# the method's own expiry a trade should have expired: still in flight means
# the expiry sweep or the provider is not moving it.
ALERT_TRADE_SLA_SECONDS = {
    method: env.int(f"ALERT_TRADE_SLA_SECONDS_{method.upper()}", default=default)
    for method, default in {
        "default": 3600,
        "mobile_money": int(TRADE_PENDING_TTL.total_seconds()) + 900,
        "bank_deposit": int(BANK_DEPOSIT_TTL.total_seconds()) + 86400,
        "voucher": 300,
        "balance": 300,
        "crypto": 300,
    }.items()
}
# Flagged payments open longer than this (0: any open flag) are an alert.
ALERT_FLAGGED_PAYMENT_SECONDS = env.int("ALERT_FLAGGED_PAYMENT_SECONDS", default=0)
ALERT_OUTBOX_OLDEST_PENDING_SECONDS = env.int("ALERT_OUTBOX_OLDEST_PENDING_SECONDS", default=300)
# A price older than its leg's limit (PRICE_MAX_AGE, FX_MAX_AGE) for this long.
ALERT_PRICE_STALE_SECONDS = env.int("ALERT_PRICE_STALE_SECONDS", default=120)
ALERT_PAYOUT_FLOAT_WAIT_SECONDS = env.int("ALERT_PAYOUT_FLOAT_WAIT_SECONDS", default=600)
# Beat has not run the alert check for this long (seen by the watchdog).
ALERT_BEAT_SILENT_SECONDS = env.int("ALERT_BEAT_SILENT_SECONDS", default=300)
CELERY_BEAT_SCHEDULE["operations-alerts-check"] = {
    "task": "operations.tasks.alerts_check_task",
    "schedule": ALERT_CHECK_EVERY_SECONDS,
}

# Stop switches (switches/): how long a process reuses its copy of the
# switches that are on (a thrown switch reaches every process within this).
SWITCHES_LOCAL_CACHE_SECONDS = env.float("SWITCHES_LOCAL_CACHE_SECONDS", default=1.0)

# --- Personal data (accounts/personal_data.py) -------------------------------
# Trades, payments and ledger entries are kept this long after an erasure
# (financial records; the export says so).
FINANCIAL_RECORDS_RETENTION_YEARS = env.int("FINANCIAL_RECORDS_RETENTION_YEARS", default=10)
# Balances below these (the smallest withdrawal / sale) can be given up to
# close an account; anything more must be withdrawn or sold first.
ERASURE_SMALL_BALANCE_LIMITS = {
    code: Decimal(env.str(f"ERASURE_SMALL_BALANCE_{code}", default=default))
    for code, default in {
        "UGX": "500",
        "USD": "1",
        "BTC": "0.00001",
        "ETH": "0.0001",
        "SOL": "0.001",
        "TRX": "1",
    }.items()
}

# --- Backups (operations/backup.py) ------------------------------------------
# Folder of pg_dump/pg_restore to use first; otherwise the server's major
# version is looked for in /usr/lib/postgresql/<major>/bin and on PATH.
PG_BIN_DIR = env.str("PG_BIN_DIR", default="")

# --- Logging: structured JSON (structlog) with the request id --------------
from dtexchange.logging import configure_logging  # noqa: E402

LOGGING_CONFIG = None
configure_logging(
    level=env.str("LOG_LEVEL", default="INFO"), json=env.bool("LOG_JSON", default=not DEBUG)
)

# --- Error tracking (dtexchange/sentry.py) ------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
from dtexchange.sentry import sentry_init  # noqa: E402

sentry_init(
    dsn=SENTRY_DSN,
    environment=env.str("SENTRY_ENVIRONMENT", default=DTX_PROFILE),
    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
)

# --- Fail-closed production (dtexchange/production_checks.py) ---------------
# Staging only: lets a production-profile site use the Relworx sandbox and
# simulated prices, with a warning logged at every start.
DTX_ALLOW_SANDBOX_SERVICES = env.bool("DTX_ALLOW_SANDBOX_SERVICES", default=False)
from dtexchange.production_checks import production_settings_check  # noqa: E402

production_settings_check(
    profile=DTX_PROFILE,
    values={**globals(), "RESEND_API_KEY": env.str("RESEND_API_KEY", default="")},
    allow_sandbox=DTX_ALLOW_SANDBOX_SERVICES,
)
