"""The roles in the database are the ones ``roles.py`` describes."""

import pytest
from django.contrib.auth.models import Group

from maintenance.accounts.roles import ROLE_PERMISSIONS


@pytest.mark.django_db
def test_the_migrated_roles_hold_exactly_the_permissions_roles_py_lists():
    # The data migration keeps a frozen copy of the list: changing roles.py without a migration fails here.
    migrated = {
        group.name: sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())
        for group in Group.objects.filter(name__in=ROLE_PERMISSIONS).prefetch_related("permissions__content_type")
    }
    assert migrated == {name: sorted(perms) for name, perms in ROLE_PERMISSIONS.items()}
