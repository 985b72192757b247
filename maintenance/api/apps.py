from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The API's plumbing; an app for the one table it keeps: the throttles' request counts."""

    name = "maintenance.api"
    label = "api"
    verbose_name = _("API")
