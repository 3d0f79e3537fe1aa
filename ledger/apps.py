from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import personal_data
        from accounts.signals import demo_data_requested
        from ledger import personal_data as ledger_data
        from ledger.receivers import fund_demo_reserves

        personal_data.register(
            "ledger",
            export=ledger_data.export,
            blockers=ledger_data.blockers,
            erase=ledger_data.erase,
        )

        demo_data_requested.connect(fund_demo_reserves, dispatch_uid="ledger.fund_demo_reserves")
