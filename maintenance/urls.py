"""URL configuration: API under /api/v1/, docs at /docs and /redoc, admin at /admin/."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from inventory.views import CategoryViewSet, SparePartViewSet
from maintenance.api.exceptions import API_NOT_FOUND, api_not_found
from maintenance.api.health import health, liveness
from maintenance.api.routers import OptionalSlashRouter
from maintenance.audit.api import AuditorViewSet
from orders.image_views import OrderImageDetailView, OrderImagesView
from orders.views import ServiceOrderViewSet


class SwaggerView(SpectacularSwaggerSplitView):
    # The split view serves Swagger UI's start-up script as a file (?script), not inline: the
    # Content-Security-Policy allows scripts from this server only.
    # Pages, read only: DRF answers OPTIONS with data, which their HTML template cannot render (a 500).
    http_method_names = ["get", "head"]


class RedocView(SpectacularRedocView):
    http_method_names = ["get", "head"]


router = OptionalSlashRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("items", SparePartViewSet, basename="sparepart")
router.register("orders", ServiceOrderViewSet, basename="serviceorder")
router.register("audit", AuditorViewSet, basename="audit")

# The API root without its slash is the same view (the browsable API's breadcrumbs show it once).
API_ROOT = next(pattern.callback for pattern in router.urls if pattern.name == "api-root")

image_urls = [
    # The seed's upload route, kept for its clients.
    re_path(r"^orders/(?P<order_id>\d{1,18})/image/?$", OrderImagesView.as_view(), name="order-image-upload"),
    re_path(r"^orders/(?P<order_id>\d{1,18})/images/?$", OrderImagesView.as_view(), name="order-images"),
    re_path(
        r"^orders/(?P<order_id>\d{1,18})/images/(?P<image_id>\d{1,18})/?$",
        OrderImageDetailView.as_view(),
        name="order-image-detail",
    ),
]

# The browsable API's login (DRF's own page), for staff only as the admin's is: a client that is
# not staff uses a token, and a session would only add a CSRF-exposed way in.
api_auth_urls = (
    [
        path(
            "login/",
            auth_views.LoginView.as_view(
                template_name="rest_framework/login.html", authentication_form=AdminAuthenticationForm
            ),
            name="login",
        ),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    ],
    "rest_framework",
)

urlpatterns = [
    path("health/", health, name="health"),
    path("health/live/", liveness, name="health-live"),
    path("admin/", admin.site.urls),
    # set_language: the back-office's language switch (a cookie; see LocaleMiddleware).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(image_urls)),
    path("api/v1/", include(router.urls)),
    re_path(r"^api/v1$", API_ROOT, name="api-root-without-slash"),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("docs/", SwaggerView.as_view(url_name="schema")),
    path("redoc", RedocView.as_view(url_name="schema"), name="redoc"),
    path("redoc/", RedocView.as_view(url_name="schema")),
    path("api-auth/", include(api_auth_urls)),
    # Anything else under /api/: a JSON 404 for every method, also under DEBUG (whose
    # 404 page is HTML) and for a write missing its slash (see maintenance.http.slashes).
    re_path(r"^api(?:/|$)", api_not_found, name=API_NOT_FOUND),
]

handler400 = "maintenance.api.exceptions.handler400"
handler403 = "maintenance.api.exceptions.handler403"
handler404 = "maintenance.api.exceptions.handler404"
handler500 = "maintenance.api.exceptions.handler500"
