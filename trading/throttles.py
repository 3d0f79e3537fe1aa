from dtexchange.throttling import UserRateThrottle


class TradingThrottle(UserRateThrottle):
    """Trading writes (calculate, buy, sell), per signed-in user."""

    scope = "trading"
