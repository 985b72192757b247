"""The SKU rule: ``CLASS-MATERIAL-SIZE-LENGTH``."""

from django.core.exceptions import ValidationError

SKU_PARTS = 4
SKU_FORMAT = "[CLASS]-[MATERIAL]-[SIZE]-[LENGTH]"


def normalize_sku(value: str) -> str:
    return (value or "").strip()


def sku_error(value: str) -> str | None:
    """The message for an invalid SKU, or None when it is valid."""
    parts = normalize_sku(value).split("-")
    if len(parts) != SKU_PARTS or not all(part.strip() == part and part for part in parts):
        return f"Invalid SKU format. Expected format: {SKU_FORMAT}, but got '{value}'"
    return None


def validate_sku(value: str) -> None:
    message = sku_error(value)
    if message:
        raise ValidationError(message, code="invalid_sku")
