"""Who is asking: the one definition of a client's address and of a trusted
network, for HTTP requests (WSGI and ASGI) and WebSocket scopes alike.

Everything that judges a client by its address uses these functions: the
per-IP rate limits, the WebSocket connection cap, the detail level of
``/readyz`` and the operators' ``/metrics``.

Two settings:

* ``NUM_PROXIES`` — how many reverse proxies of ours stand in front of the
  app, each appending the address it saw to ``X-Forwarded-For``. With ``0``
  (the default) the header is ignored: a client can type anything into it.
  With ``n`` the client is the ``n``-th address from the right (what our
  outermost proxy saw), so addresses a client prepends are never used.
* ``TRUSTED_NETWORKS`` — the networks (CIDR) whose clients may see internal
  details (readiness details, metrics). Default: loopback only.

Daphne is started with ``--proxy-headers`` when ``NUM_PROXIES`` is set, so
its own logs and the socket's scheme (``wss`` behind a TLS proxy) follow the
proxy too; the address used for decisions is still the one computed here
from the header, the same way as for gunicorn's requests.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

DEFAULT_TRUSTED_NETWORKS = ("127.0.0.0/8", "::1/128")


def client_ip_resolve(*, peer: str | None, forwarded_for: str | None) -> str:
    """The client's address from the socket peer and the X-Forwarded-For
    header, trusting exactly ``NUM_PROXIES`` proxies (the core of the two
    functions below; pure, for callers that hold neither a request nor a
    scope)."""
    num_proxies = int(getattr(settings, "NUM_PROXIES", 0) or 0)
    if num_proxies > 0 and forwarded_for:
        addresses = [a.strip() for a in forwarded_for.split(",") if a.strip()]
        if addresses:
            return _clean(addresses[-min(num_proxies, len(addresses))])
    return _clean(peer or "")


def client_ip(request) -> str:
    """The client address of a Django (or DRF) request."""
    meta = request.META
    return client_ip_resolve(
        peer=meta.get("REMOTE_ADDR"), forwarded_for=meta.get("HTTP_X_FORWARDED_FOR")
    )


def client_ip_from_scope(scope: dict) -> str:
    """The client address of an ASGI scope (a WebSocket under Daphne)."""
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers") or ()
        if name.lower() == b"x-forwarded-for"
    ]
    client = scope.get("client") or (None, None)
    return client_ip_resolve(peer=client[0], forwarded_for=",".join(forwarded) or None)


def is_trusted_network(address: str) -> bool:
    """True when ``address`` lies in one of ``TRUSTED_NETWORKS``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(tuple(_trusted_networks_setting())))


def request_is_trusted(request) -> bool:
    """A request from a trusted network (by its client address, above)."""
    return is_trusted_network(client_ip(request))


def _trusted_networks_setting() -> list[str]:
    return list(getattr(settings, "TRUSTED_NETWORKS", DEFAULT_TRUSTED_NETWORKS))


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in spec if cidr.strip())


def _clean(address: str) -> str:
    # "[::1]:443" / "1.2.3.4:5678" as some proxies write them: the address only.
    address = address.strip()
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address
