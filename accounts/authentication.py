"""JWT authentication for the API: simplejwt's, with a cheaper user lookup
and a per-process memo of verified access tokens.

Every API request with a bearer token reads its user, with one fixed
statement (``accounts.sql.user_by_pk``) instead of simplejwt's ORM query; the
checks are simplejwt's own (user exists, is active).

A client sends the same access token with every request for its lifetime
(minutes), and verifying its HMAC signature and claims is another ~5 % of a
trade request. A token that verified once is remembered by its exact bytes
(bounded, per process); a remembered token is still checked for expiry on
every request, and its user is still read. Access tokens have no blacklist
(only refresh tokens do); rotating JWT_SIGNING_KEY means restarting the
app, which empties the memo.
"""

import threading
from collections import OrderedDict

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import aware_utcnow

from accounts.sql import user_by_pk

User = get_user_model()

_VERIFIED_MAX = 4096
_verified: OrderedDict[bytes, object] = OrderedDict()
_verified_lock = threading.Lock()


class JWTAuthentication(SimpleJWTAuthentication):
    def get_validated_token(self, raw_token: bytes):
        key = bytes(raw_token)
        with _verified_lock:
            token = _verified.get(key)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
                return token
            except TokenError:
                with _verified_lock:
                    _verified.pop(key, None)
                # simplejwt's own path gives the usual error
        token = super().get_validated_token(raw_token)
        with _verified_lock:
            _verified[key] = token
            while len(_verified) > _VERIFIED_MAX:
                _verified.popitem(last=False)
        return token

    def get_user(self, validated_token):
        if User._meta.pk.name != api_settings.USER_ID_FIELD or api_settings.CHECK_REVOKE_TOKEN:
            return super().get_user(validated_token)  # a setup this fast path does not cover
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        try:
            user = user_by_pk(int(user_id))
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if not user.has_usable_password():
            # Locked by its owner ("this wasn't me", accounts.security): the
            # access tokens still out stop at once, not when they expire.
            raise AuthenticationFailed(_("User is locked"), code="user_locked")
        return user
