"""A request cannot write a line of its own into the request log (issue 22, low finding).

Before the fix ``GET /api/v1/x%0a2026-12-04 … status=200 FORGED`` wrote its decoded path as is:
a fake request line after the real one.
"""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.django_db


def test_control_characters_in_the_path_are_escaped_in_the_log(api, caplog):
    forged = "/api/v1/x%0a2026-12-04%2010:00:00,000%20INFO%20method=GET%20path=/admin/%20status=200%20FORGED%0d%1b[31m"
    with caplog.at_level(logging.INFO, logger="maintenance.requests"):
        response = api.get(forged)
    assert response.status_code == 404
    (line,) = [record.getMessage() for record in caplog.records if record.name == "maintenance.requests"]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "path=/api/v1/x\\x0a2026-12-04" in line and "\\x0d\\x1b[31m" in line
