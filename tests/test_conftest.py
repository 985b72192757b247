"""The suite's own guard: no test may flush the database under the session's live server."""

from __future__ import annotations

import pytest

from conftest import flushing_without_restore


class FakeItem:
    """What the guard reads of a pytest item: its closest django_db marker and its fixtures."""

    def __init__(self, marker=None, fixturenames=()):
        self.marker = marker.mark if marker is not None else None
        self.fixturenames = list(fixturenames)

    def get_closest_marker(self, name):
        return self.marker if name == "django_db" else None


@pytest.mark.parametrize(
    ("marker", "fixturenames", "refused"),
    [
        (None, (), False),
        (pytest.mark.django_db, (), False),
        (pytest.mark.django_db(transaction=False), (), False),
        (pytest.mark.django_db(transaction=True), (), True),
        (pytest.mark.django_db(transaction=True, serialized_rollback=False), (), True),
        (pytest.mark.django_db(transaction=True, serialized_rollback=True), (), False),
        (None, ("transactional_db",), True),
        (None, ("transactional_db", "django_db_serialized_rollback"), False),
        (pytest.mark.django_db(serialized_rollback=True), ("transactional_db",), False),
    ],
)
def test_flushing_test_must_restore_the_migrated_data(marker, fixturenames, refused):
    assert flushing_without_restore(FakeItem(marker, fixturenames)) is refused
