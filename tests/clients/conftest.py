"""Fixtures of the client tests: the published schema, and the npm tools (``tests/clients/npm.py``)."""

from __future__ import annotations

import pytest

from tests.clients import npm


@pytest.fixture(scope="session")
def npm_bin():
    """The ``.bin`` folder of the pinned npm tools, installed when missing."""
    try:
        return npm.ensure_installed()
    except npm.NpmUnavailable as error:
        pytest.fail(str(error), pytrace=False)
