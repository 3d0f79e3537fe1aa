"""What the site's server-rendered forms share."""

from __future__ import annotations

from django import forms

from dtexchange.errors import DomainError


def form_errors_place(
    form: forms.Form, exc: DomainError, *, aliases: dict[str, str] | None = None
) -> None:
    """Put a service's error next to the fields its ``details`` name (a
    ``payment_details.`` prefix dropped, ``aliases`` mapping a service's
    field name to the form's), else on top of the form."""
    aliases = aliases or {}
    placed = False
    for field, errors in (exc.details or {}).items():
        name = field.removeprefix("payment_details.")
        name = aliases.get(name, name)
        if name in form.fields and isinstance(errors, list | tuple):
            for error in errors:
                form.add_error(name, str(error))
            placed = True
    if not placed:
        form.add_error(None, exc.message)
