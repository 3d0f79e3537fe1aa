from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.signals import demo_data_requested
        from trading import payment_methods
        from trading.methods import BalanceMethod, CryptoMethod
        from trading.receivers import fund_demo_reserves

        demo_data_requested.connect(fund_demo_reserves, dispatch_uid="trading.fund_demo_reserves")
        payment_methods.register(BalanceMethod())
        payment_methods.register(CryptoMethod())
