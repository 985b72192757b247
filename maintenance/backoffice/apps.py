from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The staff's screens around Django's admin: dashboard, mixins, templates, template tags, static files.

    The one package under ``maintenance`` that may import every domain app.
    """

    name = "maintenance.backoffice"
    label = "backoffice"
    verbose_name = "Back-office"
