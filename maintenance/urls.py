"""URL configuration: API under /api/v1/, docs at /docs and /redoc, admin at /admin/."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from inventory.views import CategoryViewSet, SparePartViewSet
from maintenance.audit.api import AuditorViewSet
from maintenance.health import health, liveness
from maintenance.routers import OptionalSlashRouter
from media_uploads.views import OrderImageDetailView, OrderImagesView
from orders.views import ServiceOrderViewSet

router = OptionalSlashRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("items", SparePartViewSet, basename="sparepart")
router.register("orders", ServiceOrderViewSet, basename="serviceorder")
router.register("audit", AuditorViewSet, basename="audit")

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
    path("api/v1/", include(image_urls)),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema")),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema")),
    path("api-auth/", include(api_auth_urls)),
]

handler400 = "maintenance.exceptions.handler400"
handler403 = "maintenance.exceptions.handler403"
handler404 = "maintenance.exceptions.handler404"
handler500 = "maintenance.exceptions.handler500"
