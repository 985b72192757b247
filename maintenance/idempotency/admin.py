"""Processed idempotency keys, read-only: for answering "did my retry create a second order?"."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from maintenance.adminkit.mixins import ReadOnlyAdminMixin
from maintenance.idempotency.models import ProcessedRequest


@admin.register(ProcessedRequest)
class ProcessedRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "user", "method", "path", "state", "response_status", "created_at", "replay_count")
    list_filter = ("state", "method", "response_status", "created_at")
    list_select_related = ("user",)
    search_fields = ("=key", "path")
    search_help_text = _("Exact idempotency key, or part of the path.")
    date_hierarchy = "created_at"
    show_full_result_count = False
    # The stored response body is bytes; its size is shown instead.
    fields = (
        "key",
        "user",
        "method",
        "path",
        "fingerprint",
        "state",
        "response_status",
        "response_content_type",
        "response_size",
        "replay_count",
        "created_at",
        "completed_at",
    )
    readonly_fields = ("response_size",)

    def get_queryset(self, request):
        # The list never shows the stored response bodies: don't load them.
        return super().get_queryset(request).defer("response_body")

    @admin.display(description=_("response size"))
    def response_size(self, obj: ProcessedRequest) -> str:
        body = obj.response_body
        return "—" if body is None else f"{len(body)} bytes"
