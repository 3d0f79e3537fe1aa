"""What each app holds about a person, for the data export and the erasure.

accounts imports no other app, so each app registers its own section at
start-up (``AppConfig.ready``): ``export(user)`` returns JSON-safe data;
``blockers(user, give_up_small_balances)`` lists what must stop an erasure
(money not at zero, something in flight) as ``{"code", "message"}``;
``erase(user, give_up_small_balances)`` removes or replaces the personal data
the app keeps (financial records stay, under the pseudonymous user id) and
returns a summary for the audit trail (no personal data in it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    name: str
    export: Callable[[Any], Any]
    blockers: Callable[[Any, bool], list[dict]] | None = None
    erase: Callable[[Any, bool], dict | None] | None = None


_sections: dict[str, Section] = {}


def register(
    name: str,
    *,
    export: Callable[[Any], Any],
    blockers: Callable[[Any, bool], list[dict]] | None = None,
    erase: Callable[[Any, bool], dict | None] | None = None,
) -> None:
    _sections[name] = Section(name=name, export=export, blockers=blockers, erase=erase)


def sections() -> list[Section]:
    return [_sections[name] for name in sorted(_sections)]
