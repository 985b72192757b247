import django_filters
from django.db.models import F

from inventory.models import SparePart
from maintenance.api.filters import IdFilter, PriceFilter


class SparePartFilter(django_filters.FilterSet):
    category = IdFilter(field_name="category_id", label="Category id", help_text="Category id.")
    low_stock = django_filters.BooleanFilter(
        method="filter_low_stock", label="Low on stock", help_text="true: stock <= min_stock."
    )
    min_price = PriceFilter(
        field_name="price", lookup_expr="gte", label="Price at least", help_text="Lowest price, e.g. `0.50`."
    )
    max_price = PriceFilter(
        field_name="price", lookup_expr="lte", label="Price at most", help_text="Highest price, e.g. `20.00`."
    )

    class Meta:
        model = SparePart
        fields = ["category", "low_stock", "min_price", "max_price"]

    def filter_low_stock(self, queryset, name, value):
        if value is None:
            return queryset
        condition = {"stock__lte": F("min_stock")}
        return queryset.filter(**condition) if value else queryset.exclude(**condition)
