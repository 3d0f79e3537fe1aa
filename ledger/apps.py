from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.signals import demo_data_requested
        from ledger.receivers import fund_demo_reserves

        demo_data_requested.connect(fund_demo_reserves, dispatch_uid="ledger.fund_demo_reserves")
