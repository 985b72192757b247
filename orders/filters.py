import django_filters

from maintenance.filters import IsoDateTimeFilter
from orders.models import OrderStatus, ServiceOrder


class ServiceOrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    created_after = IsoDateTimeFilter(field_name="date_created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="date_created", lookup_expr="lt")
    sku = django_filters.CharFilter(method="filter_sku", help_text="Orders that use the part with this SKU.")
    request_id = django_filters.CharFilter()

    class Meta:
        model = ServiceOrder
        fields = ["status", "created_after", "created_before", "sku", "request_id"]

    def filter_sku(self, queryset, name, value):
        return queryset.filter(items__spare_part__sku=value.strip()).distinct()
