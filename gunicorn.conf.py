"""gunicorn settings; each one can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A request stuck longer than this is stopped (see worker_abort) and its worker replaced. The
# database's statement timeout (DATABASE_STATEMENT_TIMEOUT_MS, shorter) answers a stuck query first.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, in-flight requests get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Request line and header limits (slow or hostile clients).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket defaults to $XDG_RUNTIME_DIR/gunicorn.ctl, one path for every
# gunicorn of a checkout (make run, the live test servers), which would take it from each other,
# and stopping it adds seconds to every shutdown. Off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


def worker_abort(worker):
    """gunicorn's documented hook, called in the worker's SIGABRT handler when a request outlives ``timeout``.

    If the app is handling a request (it has a request id), raise ``RequestTimeout`` into it:
    the request unwinds (its transaction rolls back), the app answers a JSON 504 with the
    request id, and gunicorn, which has marked the worker as no longer alive, replaces it.
    Otherwise the client never finished sending its request: raise gunicorn's own "the client
    sends no more" error (``NoMoreData``, what its parser raises when a client goes away), so the
    worker closes that connection without an answer instead of writing an HTML 500, and exits.
    """
    from gunicorn.http.errors import NoMoreData

    try:
        from maintenance.http.timing import RequestTimeout, current_request_id
    except ImportError:  # the app is not loaded yet: nothing of it runs
        request_id = None
    else:
        request_id = current_request_id.get()
    if request_id is not None:
        worker.log.error("worker timeout after %ss: stopping request %s", worker.cfg.timeout, request_id)
        raise RequestTimeout(worker.cfg.timeout)
    worker.log.error("worker timeout after %ss: closing a connection whose request never arrived", worker.cfg.timeout)
    raise NoMoreData(b"")
