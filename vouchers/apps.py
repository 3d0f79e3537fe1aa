from django.apps import AppConfig


class VouchersConfig(AppConfig):
    name = "vouchers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.signals import demo_data_requested
        from vouchers.demo import issue_demo_vouchers

        demo_data_requested.connect(issue_demo_vouchers, dispatch_uid="vouchers.demo")
