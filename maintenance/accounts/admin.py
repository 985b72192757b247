"""API tokens in the admin: issue one (its key is shown once), see whose they are, revoke by deleting."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from maintenance.accounts import services
from maintenance.accounts.models import ApiToken


class IssueTokenForm(forms.ModelForm):
    lifetime_days = forms.IntegerField(
        label=_("Valid for (days)"), min_value=1, max_value=3650, initial=lambda: settings.API_TOKEN_TTL_DAYS
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "valid")
    list_select_related = ("user",)
    search_fields = ("user__username", "name", "prefix")
    autocomplete_fields = ("user",)
    date_hierarchy = "created_at"

    @admin.display(boolean=True, description=_("valid"))
    def valid(self, token: ApiToken) -> bool:
        return not token.expired

    def has_change_permission(self, request, obj=None):
        # A token is issued or revoked, never edited: its owner and expiry are what was granted.
        return False

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = IssueTokenForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "lifetime_days")
        return ("user", "name", "prefix", "created_at", "expires_at")

    def save_model(self, request, obj, form, change):
        issued = services.issue_api_token(
            user=obj.user, name=obj.name, lifetime=timedelta(days=form.cleaned_data["lifetime_days"])
        )
        # The admin goes on with `obj` (history, redirect): make it the token just issued.
        obj.pk = issued.token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            format_html(
                "{} <code>{}</code> {}",
                _("The new token is"),
                issued.key,
                _("— copy it now: it is not stored and will not be shown again. It expires on %(date)s.")
                % {"date": timezone.localtime(issued.token.expires_at).date()},
            ),
        )
