"""accounts' signal receivers (connected in AccountsConfig.ready)."""

from accounts.security import sessions_ended


def session_logged_out(sender, request, user, **kwargs):
    """A log-out ends that session: its cookie-authenticated sockets close."""
    if user is not None and getattr(request, "session", None) is not None:
        sessions_ended(user_id=user.pk, session_key=request.session.session_key)
