"""Routes under /api/wallet/."""

from django.urls import path

from wallet import apis

app_name = "wallet"
urlpatterns = [
    path("deposits", apis.DepositsApi.as_view(), name="deposits"),
    path("deposits/<str:deposit_id>", apis.DepositDetailApi.as_view(), name="deposit-detail"),
    path("limits", apis.LimitsApi.as_view(), name="limits"),
    path("limits/tier-request", apis.TierRequestApi.as_view(), name="tier-request"),
    path("statement", apis.StatementApi.as_view(), name="statement"),
]
