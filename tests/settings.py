"""Test settings: the production profile's components (PostgreSQL, Redis) on
localhost, overridable by DATABASE_URL / REDIS_URL."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dtexchange")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("LOG_JSON", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Redis pub/sub channels are global to the server, not per database number:
# give each test run its own channel prefix so two runs on one machine (or a
# benchmark beside the suite) never hear each other's broadcasts. Servers the
# tests start inherit it through the environment.
os.environ.setdefault("CHANNEL_PREFIX", f"dtx-test-{os.getpid()}")

from dtexchange.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
# The test runner swaps every MAILERS entry for the in-memory backend
# (django.core.mail.outbox); saying so here keeps a stray send out of var/mail/.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
CONN_MAX_AGE = 0
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Tasks run in-process when queued (after commit); tests that need a real
# worker start one themselves.
CELERY_TASK_ALWAYS_EAGER = True

# The API takes JSON only (DEFAULT_PARSER_CLASSES): DRF's test client sends
# JSON unless a test says otherwise.
REST_FRAMEWORK = {**REST_FRAMEWORK, "TEST_REQUEST_DEFAULT_FORMAT": "json"}  # noqa: F405
