from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import personal_data
        from payments import personal_data as payments_data
        from payments.methods import BankDepositMethod, MobileMoneyMethod

        personal_data.register(
            "payments",
            export=payments_data.export,
            blockers=payments_data.blockers,
            erase=payments_data.erase,
        )
        from trading import payment_methods

        payment_methods.register(MobileMoneyMethod())
        payment_methods.register(BankDepositMethod())
        from payments.wallet_payout import FieldSealer, MobileMoneyPayout
        from wallet import payouts

        payouts.register(MobileMoneyPayout())
        payouts.sealer_register(FieldSealer())
        from payments.topup_methods import BankDepositTopUp, MobileMoneyTopUp
        from wallet import topup_methods

        topup_methods.register(MobileMoneyTopUp())
        topup_methods.register(BankDepositTopUp())
