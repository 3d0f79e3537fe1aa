import base64
import json
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from tests.accounts.conftest import assert_error, register, verified_tokens
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

EMAIL = "tok@example.ug"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_refresh_rotates_and_the_new_refresh_works_once(api):
    first = verified_tokens(api, EMAIL)
    response = api.post("/api/auth/token/refresh", {"refresh": first["refresh"]})
    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    api.bearer(second["access"])
    assert api.get("/api/auth/me").status_code == 200
    third = api.post("/api/auth/token/refresh", {"refresh": second["refresh"]})
    assert third.status_code == 200
    fourth = api.post("/api/auth/token/refresh", {"refresh": third.json()["refresh"]})
    assert fourth.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(api):
    """A thief copied the refresh token and rotated it (or the owner did):
    when the spent token comes back, every token descending from that sign-in
    dies, the thief's chain included. Another sign-in (another device) lives."""
    stolen = verified_tokens(api, EMAIL)
    other_device = api.post("/api/auth/token", {"email": EMAIL, "password": DEFAULT_PASSWORD})
    thief = api.post("/api/auth/token/refresh", {"refresh": stolen["refresh"]}).json()
    thief = api.post("/api/auth/token/refresh", {"refresh": thief["refresh"]}).json()

    # The owner's app presents the (already rotated) token it still holds.
    assert_error(
        api.post("/api/auth/token/refresh", {"refresh": stolen["refresh"]}), 401, "invalid_token"
    )
    # The thief's newest token is dead too, and so is logging out with it.
    assert_error(
        api.post("/api/auth/token/refresh", {"refresh": thief["refresh"]}), 401, "invalid_token"
    )
    assert_error(api.post("/api/auth/logout", {"refresh": thief["refresh"]}), 401, "invalid_token")
    # A separate sign-in is a separate family.
    assert (
        api.post("/api/auth/token/refresh", {"refresh": other_device.json()["refresh"]}).status_code
        == 200
    )


def test_a_forged_copy_of_a_spent_token_revokes_nothing(api):
    """Only a token we signed counts as a reuse: an attacker who knows a
    token's id but not the key cannot revoke someone's sessions."""
    tokens = verified_tokens(api, EMAIL)
    rotated = api.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}).json()
    header, payload, _ = tokens["refresh"].split(".")
    forged = f"{header}.{payload}.{_b64({'sig': 'x'})}"
    assert_error(api.post("/api/auth/token/refresh", {"refresh": forged}), 401, "invalid_token")
    assert api.post("/api/auth/token/refresh", {"refresh": rotated["refresh"]}).status_code == 200


def test_logout_blacklists_the_refresh_token(api):
    tokens = verified_tokens(api, EMAIL)
    assert api.post("/api/auth/logout", {"refresh": tokens["refresh"]}).status_code == 204
    assert_error(
        api.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "invalid_token"
    )
    assert_error(api.post("/api/auth/logout", {"refresh": tokens["refresh"]}), 401, "invalid_token")


def test_an_access_token_is_not_a_refresh_token(api):
    tokens = verified_tokens(api, EMAIL)
    assert_error(
        api.post("/api/auth/token/refresh", {"refresh": tokens["access"]}), 401, "invalid_token"
    )


def test_unknown_email_and_wrong_password_answer_alike(api):
    UserFactory(email=EMAIL)
    wrong_password = api.post("/api/auth/token", {"email": EMAIL, "password": "not-it-2026"})
    unknown = api.post("/api/auth/token", {"email": "nobody@example.ug", "password": "x-2026"})
    assert_error(wrong_password, 401, "invalid_credentials")
    assert wrong_password.json() == unknown.json()
    assert wrong_password.status_code == unknown.status_code


def test_inactive_user_cannot_sign_in(api):
    UserFactory(email=EMAIL, is_active=False)
    response = api.post("/api/auth/token", {"email": EMAIL, "password": DEFAULT_PASSWORD})
    assert_error(response, 401, "invalid_credentials")


def _assert_refused(api, access: str):
    api.bearer(access)
    error = assert_error(api.get("/api/auth/me"), 401, "authentication_failed")
    # Nothing about which check failed.
    text = json.dumps(error).lower()
    for hint in ("expired", "signature", "blacklist", "algorithm", "token_class", "none"):
        assert hint not in text, error


def test_tampered_token_is_refused(api):
    victim = UserFactory()
    tokens = verified_tokens(api, EMAIL)
    header, payload, signature = tokens["access"].split(".")
    claims = _unb64(payload)
    claims["user_id"] = str(victim.pk)
    _assert_refused(api, f"{header}.{_b64(claims)}.{signature}")


def test_alg_none_token_is_refused(api):
    tokens = verified_tokens(api, EMAIL)
    payload = tokens["access"].split(".")[1]
    for alg in ("none", "None", "NONE"):
        _assert_refused(api, f"{_b64({'alg': alg, 'typ': 'JWT'})}.{payload}.")


def test_expired_token_is_refused(api):
    user = UserFactory()
    access = AccessToken.for_user(user)
    access.set_exp(lifetime=-timedelta(seconds=1))
    _assert_refused(api, str(access))
    refresh = RefreshToken.for_user(user)
    refresh.set_exp(lifetime=-timedelta(seconds=1))
    assert_error(
        api.post("/api/auth/token/refresh", {"refresh": str(refresh)}), 401, "invalid_token"
    )


def test_garbage_bearer_is_refused(api):
    _assert_refused(api, "not-a-jwt")


def test_me_needs_a_token(api):
    error = assert_error(api.get("/api/auth/me"), 401, "not_authenticated")
    assert error["details"] == {}


@pytest.mark.urls("tests.accounts.urls_probe")
def test_unverified_user_may_sign_in_but_not_trade(api):
    register(api, EMAIL)
    tokens = api.post("/api/auth/token", {"email": EMAIL, "password": DEFAULT_PASSWORD}).json()
    api.bearer(tokens["access"])
    assert api.get("/api/auth/me").json()["email_verified"] is False
    assert_error(api.post("/api/test/trade-probe", {}), 403, "email_not_verified")

    verified = UserFactory()
    api.bearer(str(RefreshToken.for_user(verified).access_token))
    assert api.post("/api/test/trade-probe", {}).status_code == 200
    api.bearer(None)
    assert_error(api.post("/api/test/trade-probe", {}), 401, "not_authenticated")


def test_a_changed_password_revokes_every_refresh_token(api):
    first = verified_tokens(api, EMAIL)
    second = api.post("/api/auth/token", {"email": EMAIL, "password": DEFAULT_PASSWORD}).json()
    other = UserFactory()
    other_refresh = str(RefreshToken.for_user(other))

    # As a password reset or the admin's "change password" does.
    user = User.objects.get(email=EMAIL)
    user.set_password("Brand-new-pass-2026")
    user.save()

    for tokens in (first, second):
        assert_error(
            api.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}),
            401,
            "invalid_token",
        )
    # Other people's sessions are untouched; the new password signs in.
    assert api.post("/api/auth/token/refresh", {"refresh": other_refresh}).status_code == 200
    fresh = api.post("/api/auth/token", {"email": EMAIL, "password": "Brand-new-pass-2026"})
    assert fresh.status_code == 200
    assert (
        api.post("/api/auth/token/refresh", {"refresh": fresh.json()["refresh"]}).status_code == 200
    )


def test_saving_a_user_without_a_new_password_keeps_sessions(api):
    tokens = verified_tokens(api, EMAIL)
    user = User.objects.get(email=EMAIL)
    user.full_name = "Renamed"
    user.save()
    assert api.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}).status_code == 200


def test_a_token_stops_working_when_its_user_is_deactivated_or_deleted(api):
    user = UserFactory(email=EMAIL)
    access = str(AccessToken.for_user(user))
    api.bearer(access)
    assert api.get("/api/auth/me").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_error(api.get("/api/auth/me"), 401, "authentication_failed")
    User.objects.filter(pk=user.pk).delete()
    assert_error(api.get("/api/auth/me"), 401, "authentication_failed")


def test_a_token_naming_no_number_as_its_user_is_refused(api):
    user = UserFactory(email=EMAIL)
    token = AccessToken.for_user(user)
    token["user_id"] = "not-a-number"
    api.bearer(str(token))
    assert_error(api.get("/api/auth/me"), 401, "authentication_failed")


def test_the_authenticated_user_is_the_whole_row(api):
    """The API reads the token's user with one plain statement
    (accounts.sql); it must hold what the ORM would."""
    from accounts.sql import user_by_pk

    user = UserFactory(email=EMAIL, full_name="Nakato Aisha")
    fast, orm = user_by_pk(user.pk), User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(fast, field.attname) == getattr(orm, field.attname), field.name
    assert fast._state.adding is False
    fast.full_name = "Nakato A."
    fast.save(update_fields=["full_name"])
    assert User.objects.get(pk=user.pk).full_name == "Nakato A."
    assert user_by_pk(user.pk + 1000) is None


def test_a_remembered_token_still_expires(api):
    """Verified access tokens are remembered per process
    (accounts.authentication); expiry is still checked on every request."""
    from freezegun import freeze_time

    user = UserFactory(email=EMAIL)
    with freeze_time("2026-11-25 10:00:00"):
        access = str(AccessToken.for_user(user))
        api.bearer(access)
        assert api.get("/api/auth/me").status_code == 200
        assert api.get("/api/auth/me").status_code == 200  # from the memo
    with freeze_time("2026-11-25 11:00:00"):
        _assert_refused(api, access)


def test_a_remembered_token_is_not_a_key_for_a_tampered_one(api):
    user = UserFactory(email=EMAIL)
    access = str(AccessToken.for_user(user))
    api.bearer(access)
    assert api.get("/api/auth/me").status_code == 200
    header, payload, signature = access.split(".")
    claims = _unb64(payload)
    claims["user_id"] = str(UserFactory(email="other@example.ug").pk)
    _assert_refused(api, f"{header}.{_b64(claims)}.{signature}")
