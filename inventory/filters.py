import django_filters
from django.db.models import F

from inventory.models import SparePart


class SparePartFilter(django_filters.FilterSet):
    category = django_filters.NumberFilter(field_name="category_id", help_text="Category id.")
    low_stock = django_filters.BooleanFilter(method="filter_low_stock", help_text="true: stock <= min_stock.")
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte")

    class Meta:
        model = SparePart
        fields = ["category", "low_stock", "min_price", "max_price"]

    def filter_low_stock(self, queryset, name, value):
        if value is None:
            return queryset
        condition = {"stock__lte": F("min_stock")}
        return queryset.filter(**condition) if value else queryset.exclude(**condition)
