"""One client address everywhere: the socket's peer unless NUM_PROXIES
proxies of ours stand in front; trusted networks by that address."""

import pytest
from rest_framework.test import APIClient, APIRequestFactory

from dtexchange.client_ip import (
    client_ip,
    client_ip_from_scope,
    client_ip_resolve,
    is_trusted_network,
)


def _request(**meta):
    return APIRequestFactory().get("/", **meta)


def test_without_proxies_a_forged_header_is_ignored(settings):
    settings.NUM_PROXIES = 0
    request = _request(REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert client_ip(request) == "198.51.100.4"


def test_behind_one_proxy_the_address_it_saw_wins_over_what_the_client_typed(settings):
    settings.NUM_PROXIES = 1
    # The client typed "127.0.0.1"; our proxy appended the address it saw.
    request = _request(REMOTE_ADDR="10.9.0.2", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.9")
    assert client_ip(request) == "203.0.113.9"
    assert not is_trusted_network(client_ip(request))


def test_behind_two_proxies(settings):
    settings.NUM_PROXIES = 2
    assert (
        client_ip_resolve(peer="10.0.0.2", forwarded_for="1.1.1.1, 203.0.113.9, 10.0.0.7")
        == "203.0.113.9"
    )
    # Fewer entries than proxies: the leftmost there is (DRF's rule).
    assert client_ip_resolve(peer="10.0.0.2", forwarded_for="203.0.113.9") == "203.0.113.9"


def test_a_websocket_scope_is_judged_the_same_way(settings):
    settings.NUM_PROXIES = 1
    scope = {
        "client": ["10.9.0.2", 5555],
        "headers": [(b"x-forwarded-for", b"127.0.0.1, 203.0.113.9"), (b"host", b"x")],
    }
    assert client_ip_from_scope(scope) == "203.0.113.9"
    settings.NUM_PROXIES = 0
    assert client_ip_from_scope(scope) == "10.9.0.2"


def test_trusted_networks_default_to_loopback_and_follow_the_setting(settings):
    assert is_trusted_network("127.0.0.1")
    assert is_trusted_network("::1")
    assert is_trusted_network("::ffff:127.0.0.1")
    assert not is_trusted_network("10.0.0.5")
    assert not is_trusted_network("not-an-ip")
    settings.TRUSTED_NETWORKS = ["10.0.0.0/8"]
    assert is_trusted_network("10.0.0.5")
    assert not is_trusted_network("127.0.0.1")


@pytest.mark.django_db
def test_rate_limits_count_the_client_behind_the_proxy(settings):
    """The auth IP limit counts the address our proxy saw, not the proxy's
    (everyone would share one bucket) nor what the client typed."""
    settings.NUM_PROXIES = 1
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth_ip": "3/min",
            "auth_account": "100/min",
        },
    }
    api = APIClient(REMOTE_ADDR="10.9.0.2")
    body = {"password": "wrong-password-1"}
    for n in range(3):
        forged = f"192.0.2.{n}, 203.0.113.50"  # a new forged prefix each time
        response = api.post(
            "/api/auth/token", {**body, "email": f"a{n}@example.test"}, HTTP_X_FORWARDED_FOR=forged
        )
        assert response.status_code == 401
    response = api.post(
        "/api/auth/token",
        {**body, "email": "b@example.test"},
        HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.50",
    )
    assert response.status_code == 429
    other = api.post(
        "/api/auth/token",
        {**body, "email": "c@example.test"},
        HTTP_X_FORWARDED_FOR="203.0.113.51",
    )
    assert other.status_code == 401
