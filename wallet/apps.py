from django.apps import AppConfig


class WalletConfig(AppConfig):
    """The fiat wallet's ins and outs: top-ups, withdrawals, limits, statements."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "wallet"
