"""CSV import and export of spare parts (django-import-export).

Each imported row is written through :mod:`inventory.services`, never with a
bare ``save()``: the SKU rule is enforced, and a row that sets the stock of a
new or existing part leaves an ``import`` movement in the ledger. Errors are
reported per row. The admin's preview runs the same code in a transaction that
is rolled back, so what the preview shows is what the confirmation writes.
Before the first row, the parts the file names are locked in id order, the
order every other stock change locks in.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from inventory import services
from inventory.models import MAX_STOCK, Category, SparePart, StockMovement
from inventory.validators import normalize_sku, sku_error
from maintenance.api.errors import BusinessError

IMPORT_NOTE = "CSV import"

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"):
# exported text cells that do get a leading apostrophe, which spreadsheets show as text; the
# import takes it off again, so a file exported and imported back is unchanged.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unescape_formula(value):
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


class PriceWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        text = str(value if value is not None else "").strip()
        if not text:
            raise ValueError(_("A price is required."))
        try:
            price = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("'%(value)s' is not a number.") % {"value": text})
        if not price.is_finite() or price < 0:
            raise ValueError(_("Price must be zero or more; got '%(value)s'.") % {"value": text})
        if price != price.quantize(Decimal("0.01")) or price >= Decimal("100000000"):
            raise ValueError(
                _("Price must have at most 8 digits and 2 decimal places; got '%(value)s'.") % {"value": text}
            )
        return price.quantize(Decimal("0.01"))

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else f"{value:.2f}"


class CountWidget(widgets.Widget):
    """A whole number of units, zero or more. An empty cell means 'leave as it is'."""

    def clean(self, value, row=None, **kwargs):
        text = str(value if value is not None else "").strip()
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("'%(value)s' is not a whole number.") % {"value": text})
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(_("'%(value)s' is not a whole number.") % {"value": text})
        if number < 0:
            raise ValueError(_("Must be zero or more; got '%(value)s'.") % {"value": text})
        if number > MAX_STOCK:
            raise ValueError(_("Must be at most %(max)s; got '%(value)s'.") % {"max": MAX_STOCK, "value": text})
        return int(number)

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class CategoryWidget(widgets.ForeignKeyWidget):
    """A category given by name (case-insensitive); it must exist."""

    def __init__(self):
        super().__init__(Category, field="name")

    def clean(self, value, row=None, **kwargs):
        name = str(value if value is not None else "").strip()
        if not name:
            return None
        category = Category.objects.filter(name__iexact=name).first()
        if category is None:
            raise ValueError(_("Category '%(name)s' does not exist; create it first.") % {"name": name})
        return category


class SparePartResource(resources.ModelResource):
    sku = fields.Field(attribute="sku", column_name="sku", widget=widgets.CharWidget())
    name = fields.Field(attribute="name", column_name="name", widget=widgets.CharWidget())
    category = fields.Field(attribute="category", column_name="category", widget=CategoryWidget())
    price = fields.Field(attribute="price", column_name="price", widget=PriceWidget())
    stock = fields.Field(attribute="stock", column_name="stock", widget=CountWidget())
    min_stock = fields.Field(attribute="min_stock", column_name="min_stock", widget=CountWidget())

    class Meta:
        model = SparePart
        fields = ("sku", "name", "category", "price", "stock", "min_stock")
        import_id_fields = ("sku",)
        skip_unchanged = True
        report_skipped = True
        # One row per transaction savepoint; the admin rolls back the whole
        # file when any row fails (see SparePartAdmin.get_import_data_kwargs).
        use_transactions = True

    def get_queryset(self):
        return SparePart.objects.select_related("category")

    def before_import(self, dataset, **kwargs):
        # Rows change stock in file order, but orders lock their parts in id order: a file
        # listing two parts the other way round could deadlock with an order (PostgreSQL
        # aborts one of them). Lock every part the file names, in id order, before any row.
        if "sku" in (dataset.headers or ()):
            # (PostgreSQL text cannot hold NUL: no part has such a SKU, and the query would fail.)
            skus = {normalize_sku(str(sku)) for sku in dataset["sku"] if sku is not None and "\x00" not in str(sku)}
            services.lock_parts(SparePart.objects.filter(sku__in=skus).values_list("pk", flat=True))

    def export_field(self, field, instance, **kwargs):
        return escape_formula(super().export_field(field, instance, **kwargs))

    def before_import_row(self, row, **kwargs):
        for column in ("sku", "name", "category"):
            if column in row:
                row[column] = unescape_formula(row[column])
        # Look parts up by the SKU as services store it (surrounding spaces stripped).
        if row.get("sku") is not None:
            row["sku"] = normalize_sku(str(row["sku"]))

    def import_instance(self, instance, row, **kwargs):
        """Set the row's values, remembering which columns the row actually gave."""
        instance._import_stock_given = self._given(row, "stock")
        instance._import_min_stock_given = self._given(row, "min_stock")
        stock_before, min_stock_before = instance.stock, instance.min_stock
        # Every problem of the row at once: the columns' own checks, then the rules the
        # services would refuse one at a time (a name, the SKU's format).
        errors: dict[str, list] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as invalid:
            errors.update(invalid.message_dict)
        # An empty cell keeps the current value instead of writing NULL.
        if instance.stock is None:
            instance.stock = stock_before
        if instance.min_stock is None:
            instance.min_stock = min_stock_before
        if not str(row.get("name") or "").strip():
            errors.setdefault("name", []).append(_("A name is required."))
        sku_problem = sku_error(str(row.get("sku") or ""))
        if sku_problem:
            errors.setdefault("sku", []).append(sku_problem)
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _given(row, column: str) -> bool:
        return column in row and str(row[column] if row[column] is not None else "").strip() != ""

    def do_instance_save(self, instance, is_create):
        try:
            with transaction.atomic():
                part = self._save_through_services(instance, is_create)
        except BusinessError as error:
            field = error.field if error.field in self.fields else "__all__"
            raise ValidationError({field: error.message}) from error
        for field in SparePart._meta.concrete_fields:
            setattr(instance, field.attname, getattr(part, field.attname))
        instance._state.adding = False

    def _save_through_services(self, instance, is_create: bool) -> SparePart:
        if is_create:
            part = services.create_spare_part(
                name=instance.name.strip(),
                sku=instance.sku,
                price=instance.price,
                stock=0,
                min_stock=instance.min_stock or 0,
                category=instance.category,
            )
            target = instance.stock or 0
        else:
            part = services.update_spare_part(
                instance,
                name=instance.name.strip(),
                price=instance.price,
                min_stock=instance.min_stock,
                category=instance.category,
            )
            target = instance.stock if instance._import_stock_given else part.stock
        delta = target - part.stock
        if delta:
            locked = services.lock_parts([part.pk])
            services.apply_stock_deltas(
                {part.pk: delta}, reason=StockMovement.Reason.IMPORT, note=IMPORT_NOTE, locked=locked
            )
            part.stock = locked[part.pk].stock
        return part
