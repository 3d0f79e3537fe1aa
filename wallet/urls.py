"""Routes under /api/wallet/."""

from django.urls import path

from wallet import apis

app_name = "wallet"
urlpatterns = [
    path("withdrawals", apis.WithdrawalListApi.as_view(), name="withdrawals"),
    path(
        "withdrawals/<uuid:withdrawal_id>",
        apis.WithdrawalDetailApi.as_view(),
        name="withdrawal",
    ),
    path(
        "withdrawals/<uuid:withdrawal_id>/confirm",
        apis.WithdrawalConfirmApi.as_view(),
        name="withdrawal-confirm",
    ),
    path(
        "withdrawals/<uuid:withdrawal_id>/cancel",
        apis.WithdrawalCancelApi.as_view(),
        name="withdrawal-cancel",
    ),
    path("payout-numbers", apis.PayoutNumberListApi.as_view(), name="payout-numbers"),
    path(
        "payout-numbers/<uuid:number_id>",
        apis.PayoutNumberDetailApi.as_view(),
        name="payout-number",
    ),
    path(
        "payout-numbers/<uuid:number_id>/confirm",
        apis.PayoutNumberConfirmApi.as_view(),
        name="payout-number-confirm",
    ),
    path("deposits", apis.DepositsApi.as_view(), name="deposits"),
    path("deposits/<str:deposit_id>", apis.DepositDetailApi.as_view(), name="deposit-detail"),
    path("limits", apis.LimitsApi.as_view(), name="limits"),
    path("limits/tier-request", apis.TierRequestApi.as_view(), name="tier-request"),
    path("statement", apis.StatementApi.as_view(), name="statement"),
]
