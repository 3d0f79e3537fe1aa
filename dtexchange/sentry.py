"""Errors to Sentry when ``SENTRY_DSN`` is set (sentry-sdk's Django, Celery
and Redis integrations), nowhere otherwise. Called from settings, so the
web, Celery and Daphne processes all report."""

from __future__ import annotations


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> bool:
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.redis import RedisIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration(), RedisIntegration()],
        # No personal data: no user emails, IP addresses, cookies or bodies.
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
    )
    return True
