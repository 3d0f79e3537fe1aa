from dtexchange.throttling import IPRateThrottle, UserRateThrottle


class TradingThrottle(UserRateThrottle):
    """Trading writes (calculate, buy, sell), per signed-in user."""

    scope = "trading"


class AnonCalculateThrottle(IPRateThrottle):
    """Anonymous quotes (the public calculator), per client address; a
    signed-in caller counts under TradingThrottle instead."""

    scope = "calculate_anon"

    def ident(self, request) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return super().ident(request)
