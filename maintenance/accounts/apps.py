from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Staff roles (groups and their data migration), API tokens and the account commands."""

    name = "maintenance.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from maintenance.api import authentication

        authentication.connect_signals()
