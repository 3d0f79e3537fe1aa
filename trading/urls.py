from django.urls import path

from trading import apis

app_name = "trading"
urlpatterns = [
    path("prices", apis.PricesApi.as_view(), name="prices"),
    path("calculate", apis.CalculateApi.as_view(), name="calculate"),
    path("buy", apis.BuyApi.as_view(), name="buy"),
    path("sell", apis.SellApi.as_view(), name="sell"),
    path("trades", apis.TradeListApi.as_view(), name="trades"),
    path("trades/<str:trade_id>", apis.TradeDetailApi.as_view(), name="trade-detail"),
    path("trades/<str:trade_id>/cancel", apis.TradeCancelApi.as_view(), name="trade-cancel"),
    path("payment-methods", apis.PaymentMethodsApi.as_view(), name="payment-methods"),
    path("balances", apis.BalancesApi.as_view(), name="balances"),
]
