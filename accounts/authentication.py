"""JWT authentication for the API: simplejwt's, with a cheaper user lookup.

Every API request with a bearer token reads its user. simplejwt does that
with ``User.objects.get(pk=...)``, and building that ORM query cost about a
tenth of a trade request's CPU (benchmarks/README.md). On PostgreSQL the same
row is read with one fixed statement instead; the checks are simplejwt's own
(user exists, is active).
"""

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

User = get_user_model()
_FIELDS = list(User._meta.concrete_fields)
_USER_SQL = (
    f"SELECT {', '.join(f.column for f in _FIELDS)} FROM {User._meta.db_table} "  # noqa: S608
    f"WHERE {User._meta.pk.column} = %s"
)
# A field that converts database values (from_db_value) needs the ORM.
_ROW_IS_MODEL = not any(hasattr(f, "from_db_value") for f in _FIELDS)


def _user_by_pk(pk) -> User | None:
    """The user with primary key ``pk`` or None. PostgreSQL (psycopg) returns
    these columns as the Python values the fields hold (no field has a
    from_db_value converter), so the row becomes a model without the ORM."""
    if not _ROW_IS_MODEL or connection.vendor != "postgresql":
        return User.objects.filter(pk=pk).first()
    with connection.cursor() as cursor:
        cursor.execute(_USER_SQL, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    return User.from_db(connection.alias, [f.attname for f in _FIELDS], row)


class JWTAuthentication(SimpleJWTAuthentication):
    def get_user(self, validated_token):
        if User._meta.pk.name != api_settings.USER_ID_FIELD or api_settings.CHECK_REVOKE_TOKEN:
            return super().get_user(validated_token)  # a setup this fast path does not cover
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        try:
            user = _user_by_pk(int(user_id))
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return user
