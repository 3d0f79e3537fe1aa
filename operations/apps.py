from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Operators' tools: backup and restore, the staff analytics page, alerts.
    At the top of the dependency graph: it reads every app, no app imports it
    (the project's URLs and templates reach it by name)."""

    name = "operations"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"
