"""Admin forms for service orders. They validate input; :mod:`orders.services` does the writing."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from maintenance.adminkit.mixins import StaleEditFormMixin
from media_uploads.forms import validated_image_bytes
from orders.models import ALLOWED_TRANSITIONS, ServiceOrder, ServiceOrderItem


class ServiceOrderAdminForm(StaleEditFormMixin, forms.ModelForm):
    stale_edit_exclude = ("new_image",)

    new_image = forms.FileField(
        label=_("Add a photo"),
        required=False,
        help_text=_("JPEG, PNG or WebP, checked by its content. It is stored when you save."),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    class Meta:
        model = ServiceOrder
        fields = ["request_id", "client_name", "client_phone", "client_email", "description", "status"]
        help_texts = {"request_id": _("Leave empty to generate one (admin-…).")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "request_id" in self.fields:
            self.fields["request_id"].required = False
        if "status" in self.fields and self.instance.pk is not None:
            # Only the moves the lifecycle allows from the order's current status.
            current = self.instance.status
            allowed = [current, *ALLOWED_TRANSITIONS[current]]
            self.fields["status"].choices = [
                (value, label) for value, label in self.fields["status"].choices if value in allowed
            ]
        self.new_image_data: bytes | None = None

    def clean_new_image(self):
        upload = self.cleaned_data.get("new_image")
        if not upload:
            return upload
        self.new_image_data = validated_image_bytes(upload)
        return upload


class NewItemForm(forms.ModelForm):
    """A line to add: the part and how many. The unit price is taken by the service."""

    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=settings.MAX_LINE_QUANTITY, initial=1)

    class Meta:
        model = ServiceOrderItem
        fields = ["spare_part", "quantity"]


class ExistingItemsFormSet(BaseInlineFormSet):
    """The order's lines, read-only; a ticked "delete" removes the line through the service."""


class NewItemsFormSet(BaseInlineFormSet):
    """Lines to add; the service places them (new order) or adds them (open order)."""

    def clean(self):
        """Refuse, on the line itself, what the stock cannot cover now, before the service is asked.

        The service decides under its row locks; this earlier look puts the message on the
        line that causes it and, for a new order, spends no order number on a refused save.
        """
        super().clean()
        wanted: dict[int, int] = {}
        for form in self._filled_forms():
            part = form.cleaned_data["spare_part"]
            wanted[part.pk] = wanted.get(part.pk, 0) + form.cleaned_data["quantity"]
        for form in self._filled_forms():
            part = form.cleaned_data["spare_part"]
            if wanted[part.pk] > part.stock:
                form.add_error(
                    "quantity",
                    gettext("Only %(stock)s of %(sku)s in stock; the order's lines ask for %(wanted)s.")
                    % {"stock": part.stock, "sku": part.sku, "wanted": wanted[part.pk]},
                )

    def _filled_forms(self):
        return [
            form
            for form in self.forms
            if form.has_changed()
            and getattr(form, "cleaned_data", None)
            and form.cleaned_data.get("spare_part")
            and form.cleaned_data.get("quantity")
        ]

    def lines(self) -> list[dict]:
        return [
            {"spare_part_id": form.cleaned_data["spare_part"].pk, "quantity": form.cleaned_data["quantity"]}
            for form in self.forms
            if form.has_changed() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]


class ImagesFormSet(BaseInlineFormSet):
    """The order's photos, read-only; a ticked "delete" removes the photo and its objects."""
