"""The project's URLs plus one view guarded by IsVerified, as a trading view
would be (the trading engineers' own views come later)."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsVerified
from dtexchange.urls import urlpatterns as project_urlpatterns


class TradeProbe(APIView):
    permission_classes = [IsVerified]

    def post(self, request):
        return Response({"ok": True})


urlpatterns = [path("api/test/trade-probe", TradeProbe.as_view()), *project_urlpatterns]
