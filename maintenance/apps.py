from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    """Holds the project-wide management commands and templates (admin branding)."""

    name = "maintenance"
    verbose_name = "Maintenance Service"

    def ready(self) -> None:
        from maintenance import authentication

        authentication.connect_signals()
