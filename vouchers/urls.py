from django.urls import path

from vouchers.apis import VoucherValidateApi

app_name = "vouchers"
urlpatterns = [
    path("validate", VoucherValidateApi.as_view(), name="validate"),
]
