from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from trading import payment_methods
        from trading.methods import BalanceMethod, CryptoMethod

        payment_methods.register(BalanceMethod())
        payment_methods.register(CryptoMethod())
