from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "maintenance.idempotency"
    label = "idempotency"
    verbose_name = "Idempotency"
    default_auto_field = "django.db.models.BigAutoField"
