from django.apps import AppConfig


class VouchersConfig(AppConfig):
    name = "vouchers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import personal_data
        from accounts.signals import demo_data_requested
        from vouchers import personal_data as vouchers_data

        personal_data.register("vouchers_redeemed", export=vouchers_data.export)
        from trading import payment_methods
        from vouchers.demo import issue_demo_vouchers
        from vouchers.methods import VoucherMethod

        payment_methods.register(VoucherMethod())
        demo_data_requested.connect(issue_demo_vouchers, dispatch_uid="vouchers.demo")
