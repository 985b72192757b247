"""The local services keep their state in the project's own .state folder."""

from django.conf import settings

from maintenance.dev import localservices


def test_the_state_folder_is_the_projects_wherever_the_module_sits():
    # Moving the module one folder deeper once put a second, empty PostgreSQL under maintenance/.state.
    assert localservices.PROJECT_DIR == settings.BASE_DIR
    assert (localservices.PROJECT_DIR / "manage.py").is_file()
