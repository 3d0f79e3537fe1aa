"""Routes under /api/wallet/."""

urlpatterns = []
