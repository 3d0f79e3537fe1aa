from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import personal_data
        from trading import payment_methods
        from trading import personal_data as trading_data

        personal_data.register("trades", export=trading_data.export, blockers=trading_data.blockers)
        from trading.methods import BalanceMethod, CryptoMethod

        payment_methods.register(BalanceMethod())
        payment_methods.register(CryptoMethod())
