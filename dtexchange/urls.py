from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dtexchange import health
from dtexchange.metrics import metrics_view
from operations.admin_views import analytics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    # Before the admin's own catch-all; signed-in, verified staff only.
    path("admin/analytics/", admin.site.admin_view(analytics_view), name="admin-analytics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its set-up script from a URL, not inline: the
    # site's Content-Security-Policy allows no inline script.
    # Swagger UI styles itself with a <style> block and style attributes; on
    # this page only, inline styles are allowed (scripts stay 'self' only).
    path(
        "api/docs/",
        csp_override({**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("api/auth/", include("accounts.urls")),
    # Before trading's include: trading must not import vouchers.
    path("api/trading/vouchers/", include("vouchers.urls")),
    path("api/trading/", include("trading.urls")),
    path("api/wallet/", include("wallet.urls")),
    path("api/payments/", include("payments.urls")),
    path("", include("dtexchange.site_urls")),
]

handler404 = "dtexchange.views.not_found"
handler500 = "dtexchange.views.server_error"
