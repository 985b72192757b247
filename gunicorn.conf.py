"""gunicorn settings; each one can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A request stuck longer than this is killed and its worker replaced.
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
    """A request outlived ``timeout``: answer it in JSON before the worker exits.

    The arbiter aborts the worker with SIGABRT, and gunicorn would answer with
    its own HTML 500. This hook runs inside that signal handler, on top of the
    interrupted frames, where the client socket is at hand. If no byte of the
    response went out yet, it writes a 504 with the request id (the app was
    stuck: a query, a call to S3) or a 408 (the client never finished sending
    its request), then shuts the socket so gunicorn's page is not appended. The
    database rolls back the request's open transaction when the worker's
    connection closes.
    """
    import json
    import socket
    import sys

    frame, client, resp, in_app = sys._getframe(), None, None, False
    while frame is not None:
        name, local = frame.f_code.co_name, frame.f_locals
        if name == "handle_request" and "client" in local:
            client, resp, in_app = local["client"], local.get("resp"), True
            break
        if name == "handle" and "client" in local and "listener" in local:
            client = local["client"]
            break
        frame = frame.f_back
    if client is None or (resp is not None and resp.headers_sent):
        return
    request_id = None
    if in_app:
        try:
            from maintenance.timing import current_request_id

            request_id = current_request_id.get()
        except Exception:  # the app is not loaded: no request id to give
            pass
        status = "504 Gateway Timeout"
        body = {
            "detail": f"The request took longer than {worker.cfg.timeout} s and was stopped; retry later.",
            "code": "timeout",
            "request_id": request_id,
        }
    else:
        status = "408 Request Timeout"
        body = {"detail": f"The request was not received within {worker.cfg.timeout} s.", "code": "request_timeout"}
    worker.log.error("worker timeout after %ss: answered %s (request_id=%s)", worker.cfg.timeout, status, request_id)
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n"
        f"Content-Length: {len(payload)}\r\n" + (f"X-Request-ID: {request_id}\r\n" if request_id else "") + "\r\n"
    ).encode()
    try:
        client.settimeout(1)
        client.sendall(head + payload)
        client.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
