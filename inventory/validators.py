"""The SKU rule: ``CLASS-MATERIAL-SIZE-LENGTH``."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SKU_PARTS = 4
SKU_FORMAT = "[CLASS]-[MATERIAL]-[SIZE]-[LENGTH]"
# Unicode categories a SKU may not contain: control (a newline), format (zero-width
# and direction marks: invisible, so two SKUs could look the same) and lone
# surrogates (PostgreSQL cannot store them; DRF refuses them in bodies, not the admin).
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def normalize_sku(value: str) -> str:
    return (value or "").strip()


def forbidden_in_sku(char: str) -> bool:
    """'/' (no ``/items/{sku}/`` URL could name the part), whitespace, control and format characters."""
    return char == "/" or char.isspace() or unicodedata.category(char) in FORBIDDEN_CATEGORIES


def sku_error(value: str) -> str | None:
    """The message for an invalid SKU, or None when it is valid."""
    sku = normalize_sku(value)
    if any(map(forbidden_in_sku, sku)):
        # repr() writes the invisible characters as escapes (and a JSON body can hold them).
        return _(
            "Invalid SKU format. Expected format: %(format)s, but got %(sku)s: "
            "a SKU may not contain '/', whitespace, control or format characters"
        ) % {"format": SKU_FORMAT, "sku": repr(sku)}
    parts = sku.split("-")
    if len(parts) != SKU_PARTS or not all(parts):
        return _("Invalid SKU format. Expected format: %(format)s, but got '%(sku)s'") % {
            "format": SKU_FORMAT,
            "sku": value,
        }
    return None


def validate_sku(value: str) -> None:
    message = sku_error(value)
    if message:
        raise ValidationError(message, code="invalid_sku")
