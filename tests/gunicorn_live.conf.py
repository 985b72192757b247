"""gunicorn settings for the test suite's live server: the project's own, plus a warm-up.

Live tests end with a flush of the test database, after which the migrated rows
are restored with their original ids (see ``pytest_runtest_teardown`` in the root
conftest). A worker that looked up a content type for the first time in that gap
would create a new row with a new id and cache it; warming every worker's cache
when it starts keeps the ids it holds equal to the restored ones.
"""

from pathlib import Path

exec((Path(__file__).resolve().parent.parent / "gunicorn.conf.py").read_text())


def post_worker_init(worker):
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.get_for_models(*apps.get_models())
