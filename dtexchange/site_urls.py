"""The customer site's pages (server-rendered; owner: site)."""

from django.urls import path

from accounts import authenticator_views, lock_views, settings_views
from accounts import views as account_views
from trading import views as trading_views
from wallet import views as wallet_views

urlpatterns = [
    path("", trading_views.landing, name="landing"),
    path("dashboard/", trading_views.dashboard, name="dashboard"),
    path("trade/", trading_views.trade, name="trade"),
    path("trades/", trading_views.history, name="history"),
    path("trades/<uuid:trade_id>/", trading_views.trade_detail, name="trade_detail"),
    path("trades/<uuid:trade_id>/cancel/", trading_views.trade_cancel_view, name="trade_cancel"),
    path("wallet/withdraw/", wallet_views.withdraw, name="withdraw"),
    path(
        "wallet/withdrawals/<uuid:withdrawal_id>/",
        wallet_views.withdrawal_detail,
        name="withdrawal_detail",
    ),
    path(
        "wallet/withdrawals/<uuid:withdrawal_id>/cancel/",
        wallet_views.withdrawal_cancel_view,
        name="withdrawal_cancel",
    ),
    path("wallet/", wallet_views.wallet, name="wallet"),
    path("wallet/top-ups/<uuid:deposit_id>/", wallet_views.deposit_detail, name="wallet_deposit"),
    path("wallet/tier-request/", wallet_views.tier_request, name="wallet_tier_request"),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", account_views.LogoutView.as_view(), name="logout"),
    path("signup/", account_views.signup, name="signup"),
    path("account/settings/", settings_views.account_settings, name="account_settings"),
    path("account/settings/name/", settings_views.name_change, name="account_settings_name"),
    path(
        "account/settings/password/",
        settings_views.password_change,
        name="account_password_change",
    ),
    path(
        "account/settings/payout-numbers/",
        wallet_views.payout_number_add_view,
        name="account_payout_number_add",
    ),
    path(
        "account/settings/payout-numbers/<uuid:number_id>/confirm/",
        wallet_views.payout_number_confirm_view,
        name="account_payout_number_confirm",
    ),
    path(
        "account/settings/payout-numbers/<uuid:number_id>/delete/",
        wallet_views.payout_number_delete_view,
        name="account_payout_number_delete",
    ),
    path(
        "account/authenticator/",
        authenticator_views.authenticator_settings,
        name="authenticator_settings",
    ),
    path("account/lock/<str:token>/", lock_views.account_lock, name="account_lock"),
    path("verify/", account_views.verify_email, name="verify_email"),
    path("verify/resend/", account_views.resend_code, name="resend_code"),
    path("password-reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        account_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        account_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
