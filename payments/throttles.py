"""Rate limit for the Relworx webhook, on the project's one atomic limiter
(dtexchange.throttling)."""

from dtexchange.throttling import IPRateThrottle


class RelworxWebhookThrottle(IPRateThrottle):
    """Per client address, checked by DRF before the view runs: a flood of
    forged or replayed calls is answered 429 before the body is parsed, the
    signature computed or the database touched. All of Relworx's real traffic
    comes from a few addresses, so the rate (THROTTLE_RELWORX_WEBHOOK) is set
    for Relworx's peak, not one customer's (see settings)."""

    scope = "relworx_webhook"
