from django.urls import path

from accounts import apis

app_name = "accounts"
urlpatterns = [
    path("register", apis.RegisterApi.as_view(), name="register"),
    path("verify-email", apis.VerifyEmailApi.as_view(), name="verify-email"),
    path("resend-code", apis.ResendCodeApi.as_view(), name="resend-code"),
    path("token", apis.TokenApi.as_view(), name="token"),
    path("token/refresh", apis.TokenRefreshApi.as_view(), name="token-refresh"),
    path("logout", apis.LogoutApi.as_view(), name="logout"),
    path("me", apis.MeApi.as_view(), name="me"),
    path("me/export", apis.MeExportApi.as_view(), name="me-export"),
    path("me/erase", apis.MeEraseApi.as_view(), name="me-erase"),
    path("me/authenticator", apis.AuthenticatorApi.as_view(), name="me-authenticator"),
    path(
        "me/authenticator/confirm",
        apis.AuthenticatorConfirmApi.as_view(),
        name="me-authenticator-confirm",
    ),
    path(
        "me/authenticator/remove",
        apis.AuthenticatorRemoveApi.as_view(),
        name="me-authenticator-remove",
    ),
]
