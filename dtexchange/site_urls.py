"""The customer site's pages (server-rendered). Each app adds its pages here."""

from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
]
