"""Django's PostgreSQL backend, with a health check that skips the round trip when it can.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of
every request that reuses a connection, so that a connection the server dropped
(a restart, an idle timeout) is replaced instead of failing the request. That is
one more round trip for every request. A server that drops a connection says so
first: it sends an error ("terminating connection due to administrator command")
or closes the socket, and either makes the idle socket readable. So the check
asks the operating system first and sends ``SELECT 1`` only when something is
waiting on the socket. A peer that vanished without a word (a cut network) is
not found by ``SELECT 1`` either: it would wait for TCP's timeout like the query.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            quiet = connection.info.transaction_status == TransactionStatus.IDLE and not _has_input(connection.fileno())
        except (psycopg.Error, OSError):  # a broken connection: let SELECT 1 say so
            quiet = False
        return True if quiet else super().is_usable()


def _has_input(fd: int) -> bool:
    """Whether the socket has something to read, or is closed or broken, without waiting."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
