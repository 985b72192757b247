import django_filters

from maintenance.api.filters import IsoDateTimeFilter
from orders.models import OrderStatus, ServiceOrder


class ServiceOrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=OrderStatus.choices, label="Status", help_text="One or more statuses (repeat the parameter)."
    )
    created_after = IsoDateTimeFilter(
        field_name="date_created", lookup_expr="gte", label="Created at or after", help_text="ISO 8601 date-time."
    )
    created_before = IsoDateTimeFilter(
        field_name="date_created", lookup_expr="lt", label="Created before", help_text="ISO 8601 date-time."
    )
    sku = django_filters.CharFilter(
        method="filter_sku", label="Uses the part with SKU", help_text="Orders that use the part with this SKU."
    )
    request_id = django_filters.CharFilter(label="Request id", help_text="The `request_id` the order was placed with.")

    class Meta:
        model = ServiceOrder
        fields = ["status", "created_after", "created_before", "sku", "request_id"]

    def filter_sku(self, queryset, name, value):
        return queryset.filter(items__spare_part__sku=value.strip()).distinct()
