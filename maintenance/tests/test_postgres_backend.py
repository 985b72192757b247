"""The health check that skips its round trip unless the server has said something."""

import time

import psycopg
import pytest
from django.db import connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_connection():
    """A connection of its own, in autocommit like a worker's between requests."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_an_idle_healthy_connection_is_usable_without_a_query(own_connection, monkeypatch):
    def no_query(*args, **kwargs):
        raise AssertionError("the health check sent a query")

    monkeypatch.setattr(own_connection.connection, "cursor", no_query)
    assert own_connection.is_usable()


def test_a_connection_the_server_ended_is_replaced_before_use(own_connection):
    pid = own_connection.connection.info.backend_pid
    with psycopg.connect(**own_connection.get_connection_params(), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    deadline = time.monotonic() + 5
    while own_connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not own_connection.is_usable()

    own_connection.health_check_enabled, own_connection.health_check_done = True, False
    own_connection.close_if_health_check_failed()
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_inside_a_transaction_it_asks_the_server(own_connection, monkeypatch):
    sent = []
    real_cursor = own_connection.connection.cursor

    def counting_cursor(*args, **kwargs):
        sent.append(True)
        return real_cursor(*args, **kwargs)

    own_connection.connection.execute("BEGIN")
    monkeypatch.setattr(own_connection.connection, "cursor", counting_cursor)
    assert own_connection.is_usable()
    assert sent
    own_connection.connection.execute("ROLLBACK")
