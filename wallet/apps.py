from django.apps import AppConfig


class WalletConfig(AppConfig):
    """The fiat wallet's ins and outs: top-ups, withdrawals, limits, statements."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "wallet"

    def ready(self) -> None:
        from accounts import personal_data
        from wallet import personal_data as wallet_data

        personal_data.register("wallet", export=wallet_data.export, erase=wallet_data.erase)
