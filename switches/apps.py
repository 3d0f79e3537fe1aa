from django.apps import AppConfig


class SwitchesConfig(AppConfig):
    """Stop switches: staff freeze an account or pause a payment or payout
    method. Low in the dependency graph: trading reads it, it reads only
    accounts and audit."""

    name = "switches"
    verbose_name = "Stop switches"
    default_auto_field = "django.db.models.BigAutoField"
