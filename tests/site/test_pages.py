import re

import pytest

from accounts.models import User


def _csp(response) -> str:
    return response.headers["Content-Security-Policy"]


@pytest.mark.django_db
def test_landing_lists_every_coin_and_loads_only_module_scripts(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for code in ("BTC", "ETH", "SOL", "TRX"):
        assert f'data-price="{code}-USD"' in html
        assert f'data-price="{code}-UGX"' in html
    # No inline script: every <script> has a src (the CSP would block it anyway).
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts, "the live client must be loaded"
    assert all("src=" in tag for tag in scripts), scripts
    assert 'aria-live="polite"' in html  # the toast region


@pytest.mark.django_db
def test_content_security_policy_forbids_inline_script(client):
    policy = _csp(client.get("/"))
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_static_files_are_served(client):
    for path in ("/static/css/site.css", "/static/js/live.js", "/static/js/format.js"):
        response = client.get(path)
        assert response.status_code == 200, path
    assert "javascript" in client.get("/static/js/live.js").headers["Content-Type"]


@pytest.mark.django_db
def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"We couldn't find that page" in response.content


@pytest.mark.django_db
def test_server_error_page_renders_without_a_request_context():
    from django.test import RequestFactory

    from dtexchange.views import server_error

    response = server_error(RequestFactory().get("/boom"))
    assert response.status_code == 500
    assert b"Nothing was charged" in response.content


@pytest.mark.django_db
def test_login_with_email_and_password_then_log_out(client):
    User.objects.create_user("ann@example.com", "a-long-passphrase-1")
    page = client.get("/login/")
    assert b"csrfmiddlewaretoken" in page.content
    bad = client.post("/login/", {"username": "ann@example.com", "password": "wrong"})
    assert bad.status_code == 200
    assert b"don&#x27;t match an account" in bad.content
    good = client.post(
        "/login/", {"username": "ann@example.com", "password": "a-long-passphrase-1"}
    )
    assert good.status_code == 302
    assert client.get("/").context["user"].is_authenticated
    assert client.post("/logout/").status_code == 302
    assert not client.get("/").context["user"].is_authenticated


@pytest.mark.django_db
def test_password_reset_sends_a_working_link(client, mailoutbox):
    user = User.objects.create_user("bob@example.com", "old-passphrase-1")
    response = client.post("/password-reset/", {"email": "bob@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/password-reset/\S+/)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    assert form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "new-passphrase-2", "new_password2": "new-passphrase-2"},
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("new-passphrase-2")


@pytest.mark.django_db
def test_api_docs_load_their_script_from_a_url_under_the_csp(client):
    html = client.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all("src=" in tag for tag in scripts), scripts
    script = client.get("/api/docs/?script")
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]


@pytest.mark.django_db
def test_log_in_attempts_are_rate_limited_per_account(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth_account": "3/min",
        },
    }
    User.objects.create_user("carol@example.com", "a-long-passphrase-1")
    for _ in range(3):
        response = client.post("/login/", {"username": "carol@example.com", "password": "x"})
        assert response.status_code == 200
    blocked = client.post(
        "/login/", {"username": "carol@example.com", "password": "a-long-passphrase-1"}
    )
    assert blocked.status_code == 429
    assert b"Too many tries" in blocked.content
    assert not blocked.wsgi_request.user.is_authenticated
