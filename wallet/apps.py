from django.apps import AppConfig


class WalletConfig(AppConfig):
    """The fiat wallet's ins and outs: top-ups, withdrawals, limits, statements."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "wallet"

    def ready(self) -> None:
        from accounts import personal_data, settings_sections
        from trading import buy_limits
        from wallet import limits
        from wallet import personal_data as wallet_data
        from wallet import views as wallet_views

        buy_limits.register(consume=limits.buy_limit_consume, release=limits.limit_release)

        personal_data.register(
            "wallet",
            export=wallet_data.export,
            blockers=wallet_data.blockers,
            erase=wallet_data.erase,
        )
        settings_sections.register(
            "wallet", template="wallet/_settings.html", context=wallet_views.settings_section
        )
