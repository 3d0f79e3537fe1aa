"""A browser without JavaScript over real HTTP (httpx against pytest-django's
live_server): keeps its cookies, sends each form with the CSRF token of the
page, and never follows redirects by itself, so a test sees each answer."""

from __future__ import annotations

import re

import httpx

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CODE_RE = re.compile(r"\b(\d{6})\b")


class Browser:
    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def submit(self, page: str, data: dict, *, action: str | None = None) -> httpx.Response:
        """Open ``page``, then post ``data`` with its CSRF token to ``action``
        (default: the page itself), as a person filling in the form does."""
        html = self.http.get(page).text
        match = CSRF_RE.search(html)
        assert match, f"no CSRF token on {page}"
        return self.http.post(
            action or page,
            data={"csrfmiddlewaretoken": match.group(1), **data},
            headers={"Referer": str(self.http.base_url.join(page))},
        )

    def signed_in(self) -> bool:
        """Whether this browser is signed in as a verified user (the
        dashboard answers instead of sending it elsewhere)."""
        return self.http.get("/dashboard/").status_code == 200

    def close(self) -> None:
        self.http.close()


def last_code(mailoutbox, email: str) -> str:
    sent = [m for m in mailoutbox if email in m.to]
    assert sent, f"no email sent to {email}"
    return CODE_RE.search(sent[-1].body).group(1)
