from django.urls import path

from payments.apis import RelworxWebhookApi

app_name = "payments"
urlpatterns = [
    path("relworx/webhook", RelworxWebhookApi.as_view(), name="relworx-webhook"),
]
