"""Create the staff roles (groups) with their model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


# Frozen as they were when the roles were created: a migration must not change meaning when
# maintenance/accounts/roles.py does (change roles with a new migration).
VIEW_ALL = [
    "inventory.view_category",
    "inventory.view_sparepart",
    "inventory.view_stockmovement",
    "orders.view_serviceorder",
    "orders.view_serviceorderitem",
    "media_uploads.view_serviceorderimage",
]
ROLE_PERMISSIONS = {
    "Inventory managers": [
        *VIEW_ALL,
        "inventory.add_category",
        "inventory.change_category",
        "inventory.delete_category",
        "inventory.add_sparepart",
        "inventory.change_sparepart",
        "inventory.delete_sparepart",
        "inventory.add_stockmovement",
    ],
    "Technicians": [
        *VIEW_ALL,
        "orders.add_serviceorder",
        "orders.change_serviceorder",
        "orders.add_serviceorderitem",
        "orders.change_serviceorderitem",
        "orders.delete_serviceorderitem",
        "media_uploads.add_serviceorderimage",
        "media_uploads.delete_serviceorderimage",
    ],
    "Viewers": VIEW_ALL,
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    # This migration was ``maintenance.0001_roles`` before the project package became sub-packages:
    # a database that has that one recorded records this one as applied instead of running it again.
    replaces = [("maintenance", "0001_roles")]
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0002_initial"),
        ("orders", "0001_initial"),
        ("media_uploads", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
