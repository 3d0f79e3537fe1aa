"""What other apps add to the account settings page (/account/settings/).

accounts imports no other app, so an app with settings of its own (the
wallet's payout numbers and tier) registers a section at start-up
(``AppConfig.ready``): ``template`` is the partial the page includes, and
``context(request, forms)`` returns what it needs (``forms``: the bound
forms of a post that failed, by name, to show its errors), or None to leave
the section out for this user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    name: str
    template: str
    context: Callable[[Any, dict], dict | None]


_sections: dict[str, Section] = {}


def register(name: str, *, template: str, context: Callable[[Any, dict], dict | None]) -> None:
    _sections[name] = Section(name=name, template=template, context=context)


def sections() -> list[Section]:
    return [_sections[name] for name in sorted(_sections)]
