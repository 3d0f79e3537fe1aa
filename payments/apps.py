from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.methods import BankDepositMethod, MobileMoneyMethod
        from trading import payment_methods

        payment_methods.register(MobileMoneyMethod())
        payment_methods.register(BankDepositMethod())
