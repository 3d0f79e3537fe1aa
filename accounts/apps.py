from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from accounts.receivers import session_logged_in, session_logged_out

        user_logged_out.connect(session_logged_out, dispatch_uid="accounts.session_logged_out")
        user_logged_in.connect(session_logged_in, dispatch_uid="accounts.session_logged_in")
