from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediaUploadsConfig(AppConfig):
    name = "media_uploads"
    verbose_name = _("Order images")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from media_uploads import signals  # noqa: F401 - connects the object clean-up
