"""accounts' hand-written SQL: the user row of a JWT, used only by
``accounts.authentication``.

Every API request with a bearer token reads its user; building simplejwt's
``User.objects.get(pk=...)`` cost about a tenth of a trade request's CPU
(benchmarks/README.md), so the row is read with one fixed statement.
"""

from django.contrib.auth import get_user_model
from django.db import connection

User = get_user_model()
_FIELDS = list(User._meta.concrete_fields)
USER_BY_PK = (
    f"SELECT {', '.join(f.column for f in _FIELDS)} FROM {User._meta.db_table} "  # noqa: S608
    f"WHERE {User._meta.pk.column} = %s"
)


def user_by_pk(pk: int) -> User | None:
    """The user with primary key ``pk``, or None. A field that converts
    database values (``from_db_value``, e.g. an encrypted column) converts
    them here as the ORM would."""
    with connection.cursor() as cursor:
        cursor.execute(USER_BY_PK, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        f.from_db_value(value, None, connection) if hasattr(f, "from_db_value") else value
        for f, value in zip(_FIELDS, row, strict=True)
    ]
    return User.from_db(connection.alias, [f.attname for f in _FIELDS], values)
