import django_filters
from django.db.models import F

from inventory.models import SparePart


class SparePartFilter(django_filters.FilterSet):
    # A whole number: the generic number field let ?category=3.7 mean category 3.
    category = django_filters.NumberFilter(
        field_name="category_id", decimal_places=0, max_digits=19, help_text="Category id."
    )
    low_stock = django_filters.BooleanFilter(method="filter_low_stock", help_text="true: stock <= min_stock.")
    # A bound written as prices are (8 digits before the point, 2 after): any other
    # number is a 400 naming the parameter. 1e-16384 or -1e131072 passed the generic
    # number field and overflowed PostgreSQL's numeric (a 500).
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte", max_digits=10, decimal_places=2)
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte", max_digits=10, decimal_places=2)

    class Meta:
        model = SparePart
        fields = ["category", "low_stock", "min_price", "max_price"]

    def filter_low_stock(self, queryset, name, value):
        if value is None:
            return queryset
        condition = {"stock__lte": F("min_stock")}
        return queryset.filter(**condition) if value else queryset.exclude(**condition)
