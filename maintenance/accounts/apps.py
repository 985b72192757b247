from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Staff roles (groups and their data migration), API tokens and the account commands."""

    name = "maintenance.accounts"
    label = "accounts"
    verbose_name = _("Accounts")
