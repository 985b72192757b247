"""Order photos in the admin: a list with thumbnails, uploads and deletes through the services.

Photos are usually handled on their order's page; this list is for finding
them across orders. Uploads are validated by content like the API's, and a
delete removes the stored objects once the transaction commits.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from maintenance.api.errors import BusinessError
from maintenance.backoffice.mixins import ServiceFormAdminMixin, ServiceRefused, sync_instance
from maintenance.backoffice.pagination import BigTableAdminMixin
from media_uploads import services
from media_uploads.forms import ImageUploadAdminForm
from media_uploads.models import ServiceOrderImage


@admin.register(ServiceOrderImage)
class ServiceOrderImageAdmin(BigTableAdminMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    form = ImageUploadAdminForm
    list_display = (
        "preview",
        "order",
        "original_name",
        "content_type",
        "dimensions",
        "size",
        "uploaded_by",
        "date_created",
    )
    list_display_links = ("original_name",)
    list_filter = ("content_type", "date_created")
    list_select_related = ("order", "uploaded_by")
    search_fields = ("original_name", "=order__id", "order__client_name")
    search_help_text = "File name, exact order number or client name."
    autocomplete_fields = ("order",)
    # No date_hierarchy (a DISTINCT over every photo; the date filter is a range), and 50
    # rows a page: each row signs two links.
    list_per_page = 50
    readonly_fields = (
        "large_preview",
        "original_name",
        "content_type",
        "dimensions",
        "size",
        "uploaded_by",
        "date_created",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("order", "file")
        return ("order", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("order", *self.readonly_fields)

    def has_change_permission(self, request, obj=None):
        # A stored photo is never edited, only added or deleted.
        return False

    def save_model(self, request, obj, form, change):
        try:
            image = services.upload_order_image(
                form.cleaned_data["order"].pk,
                data=form.image_data,
                original_name=form.cleaned_data["file"].name,
                uploaded_by=request.user,
            )
        except BusinessError as error:
            raise ServiceRefused.from_error(error, {"file": "file"})
        sync_instance(obj, image)

    def delete_model(self, request, obj):
        services.delete_order_image(obj.order_id, obj.pk)

    @admin.display(description="photo")
    def preview(self, image: ServiceOrderImage):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" style="max-width:96px;max-height:72px;'
            'border-radius:3px"></a>',
            services.signed_url(image.image),
            services.signed_url(image.thumbnail or image.image),
        )

    @admin.display(description="image")
    def large_preview(self, image: ServiceOrderImage):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener" title="Open the full image">'
            '<img src="{}" alt="" style="max-width:640px;max-height:480px;border-radius:4px"></a>',
            services.signed_url(image.image),
            services.signed_url(image.image),
        )

    @admin.display(description="size (px)")
    def dimensions(self, image: ServiceOrderImage):
        return f"{image.width} x {image.height}" if image.width else "—"

    @admin.display(description="bytes", ordering="size_bytes")
    def size(self, image: ServiceOrderImage):
        return f"{image.size_bytes:,}"
