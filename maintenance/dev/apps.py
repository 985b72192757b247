from django.apps import AppConfig


class DevConfig(AppConfig):
    """Development tools: local PostgreSQL + S3 (``localservices``), demo and benchmark data commands."""

    name = "maintenance.dev"
    label = "dev"
    verbose_name = "Development tools"
