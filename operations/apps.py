from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Operators' tools (backup and restore). At the top of the dependency
    graph: it reads every app, no app imports it."""

    name = "operations"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"
