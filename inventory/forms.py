"""Admin forms for the inventory. Saving is done by :mod:`inventory.services`, not by these forms."""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory.models import MAX_STOCK, Category, SparePart
from inventory.services import RECEIVING_REASONS
from maintenance.adminkit.mixins import StaleEditFormMixin


class CategoryAdminForm(StaleEditFormMixin, forms.ModelForm):
    class Meta:
        model = Category
        fields = ["name", "description"]


class SparePartAdminForm(StaleEditFormMixin, forms.ModelForm):
    """The part's fields, plus a note that goes on the ledger movement when the stock changes."""

    # The stock has its own guard (stock_seen below): orders move it all the time.
    stale_edit_exclude = ("stock", "stock_note")

    stock = forms.IntegerField(
        label=_("Stock"),
        min_value=0,
        max_value=MAX_STOCK,
        initial=0,
        help_text=_("Units on hand. A change is recorded in the stock ledger as an adjustment."),
    )
    min_stock = forms.IntegerField(
        label=_("Reorder level"),
        min_value=0,
        max_value=MAX_STOCK,
        initial=0,
        help_text=_("At or below it the part is low on stock and should be reordered."),
    )
    price = forms.DecimalField(label=_("Price"), min_value=0, max_digits=10, decimal_places=2)
    stock_note = forms.CharField(
        label=_("Note for the stock ledger"),
        max_length=255,
        required=False,
        help_text=_("Why the stock changed (e.g. 'stocktake', 'delivery 4711'). Saved on the movement."),
    )

    # The stock shown when the form was opened: orders move stock all the time,
    # so saving a form opened earlier must not put an old number back.
    stock_seen = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = SparePart
        fields = ["name", "sku", "category", "price", "stock", "min_stock"]
        help_texts = {
            "sku": _(
                "CLASS-MATERIAL-SIZE-LENGTH. Fixed through the API once created; renaming it here changes "
                "the part's API address (/api/v1/items/<SKU>) for every client."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["stock_seen"].initial = self.instance.stock

    def clean(self):
        cleaned_data = super().clean()
        #: Whether staff set a stock: the admin passes it to the service only then.
        self.stock_edited = "stock" in self.changed_data
        seen = cleaned_data.get("stock_seen")
        if self.instance.pk is None or seen is None or "stock" not in cleaned_data:
            return cleaned_data
        current = self.instance.stock  # as read when this POST arrived
        self.stock_edited = cleaned_data["stock"] != seen
        if not self.stock_edited:
            # Not edited: show (and keep) whatever the stock is now.
            cleaned_data["stock"] = current
        elif seen != current:
            self.add_error(
                "stock",
                gettext(
                    "The stock changed from %(seen)s to %(current)s while you were editing "
                    "(see the stock ledger below). Check the count and save again."
                )
                % {"seen": seen, "current": current},
            )
            # The next submit compares against the stock now shown.
            self.data = self.data.copy()
            self.data[self.add_prefix("stock_seen")] = str(current)
        return cleaned_data


class ReceiveStockLineForm(forms.Form):
    """One line of a delivery or a correction: a part by its SKU, a quantity and why."""

    sku = forms.CharField(label=_("SKU"), max_length=64, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=0,
        max_value=MAX_STOCK,
        help_text=_("Units received, returned or damaged; for a count, units counted."),
    )
    # The first reason as the initial value: an untouched extra line posts it and stays "unchanged" (skipped).
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[(reason.value, reason.label) for reason in RECEIVING_REASONS],
        initial=RECEIVING_REASONS[0],
    )


class ReceiveStockForm(forms.Form):
    note = forms.CharField(
        label=_("Note for the stock ledger"),
        max_length=255,
        required=False,
        help_text=_("E.g. the delivery note's number. Saved on every movement."),
    )


ReceiveStockLineFormSet = forms.formset_factory(ReceiveStockLineForm, extra=5, max_num=200, validate_max=True)
