"""``GET /api/v1/audit/``: the audit trail for staff."""

import django_filters
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets

from maintenance.api.filters import FilterBackend, IdFilter, IsoDateTimeFilter, SearchFilter
from maintenance.api.pagination import KeysetPagination
from maintenance.api.permissions import CanReadAuditTrail
from maintenance.audit.models import Auditor
from maintenance.audit.signals import DEFAULT_AUDITED_MODELS


@extend_schema_field(
    {
        "type": "object",
        "description": "Each changed field mapped to `[old, new]` (`old` is null on create, `new` on delete).",
        "additionalProperties": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
        "example": {"stock": [500, 450]},
    }
)
class ChangesField(serializers.JSONField):
    pass


class AuditorSerializer(serializers.ModelSerializer):
    changes = ChangesField(read_only=True)
    model = serializers.CharField(source="content_type.model", read_only=True)
    app_label = serializers.CharField(source="content_type.app_label", read_only=True)
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Auditor
        fields = [
            "id",
            "app_label",
            "model",
            "object_id",
            "object_repr",
            "action",
            "changes",
            "actor",
            "actor_id",
            "request_id",
            "client_request_id",
            "remote_addr",
            "timestamp",
        ]
        read_only_fields = fields


class AuditPagination(KeysetPagination):
    # The (timestamp, id) index serves both the order and each page's range; rows written by one
    # statement share a timestamp, and the cursor's offset tells them apart.
    ordering = ("-timestamp", "-id")


class AuditorFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(
        field_name="content_type__model", lookup_expr="iexact", label="Model", help_text="e.g. `sparepart`."
    )
    object_id = django_filters.CharFilter(label="Object id")
    actor = IdFilter(field_name="actor_id", label="Actor (user id)", help_text="The acting user's id.")
    action = django_filters.ChoiceFilter(choices=Auditor.Action.choices, label="Action")
    since = IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte", label="At or after")
    until = IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt", label="Before")
    request_id = django_filters.CharFilter(label="Request id", help_text="The server's id (`X-Request-ID` answered).")
    client_request_id = django_filters.CharFilter(
        label="Client request id", help_text="The `X-Request-ID` the client sent (`X-Client-Request-ID` answered)."
    )

    class Meta:
        model = Auditor
        fields = ["model", "object_id", "actor", "action", "since", "until", "request_id", "client_request_id"]


@extend_schema_view(
    list=extend_schema(summary="List audit entries (staff with audit.view_auditor; models they may view)"),
    retrieve=extend_schema(summary="Get an audit entry (staff with audit.view_auditor; models they may view)"),
)
class AuditorViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Auditor.objects.select_related("content_type", "actor")
    serializer_class = AuditorSerializer
    permission_classes = [CanReadAuditTrail]
    filterset_class = AuditorFilter
    search_fields = ["object_repr"]
    # Paged by position, newest first, in a fixed order (so no OrderingFilter): see AuditPagination.
    filter_backends = [FilterBackend, SearchFilter]
    pagination_class = AuditPagination

    def get_queryset(self):
        """Only the entries of models the user may view: an entry carries the object's values."""
        user = self.request.user
        queryset = super().get_queryset()
        if user.is_superuser:
            return queryset
        models = [apps.get_model(label) for label in getattr(settings, "AUDITED_MODELS", DEFAULT_AUDITED_MODELS)]
        readable = [
            content_type.pk
            for model, content_type in ContentType.objects.get_for_models(*models).items()  # cached: no query
            if user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")
        ]
        return queryset.filter(content_type__in=readable)
