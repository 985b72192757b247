"""CPU per request inside one process: the loop for finding what an order costs.

``make bench`` measures the product as users see it, but on a shared 2-core
machine its numbers drift by a third between runs, too much to tell whether a
change saved half a millisecond. This calls Django's WSGI handler directly (no
gunicorn, no sockets, one process) and reports the CPU time per request of this
process and of its PostgreSQL backend, which repeat within a few percent:

    make bench-inprocess                                   # the three scenarios, 500 requests each
    make bench-inprocess BENCH_ARGS="orders --profile"     # plus cProfile, by cumulative CPU time
    make bench-inprocess BENCH_ARGS="orders --queries"     # plus wall time per SQL statement
    make bench-inprocess BENCH_ARGS="orders --instructions"  # instructions per request (callgrind)

``orders`` is S1 (one line, quantity 1, a random part of 1,000), ``items`` is S3
(``GET /api/v1/items/?limit=50``), ``floor`` is ``GET /api/v1/`` (the API root: the
middleware, the token check, the throttle and DRF's dispatch, and no query of its own),
what every API request pays before its own work: subtract it to see a view's own cost.
It runs against its own database (``maintenance_inprocess``, created by the Makefile
target) with DEBUG off and the production settings otherwise.

``--instructions`` counts the instructions this process executes per request
under valgrind's callgrind (installed from the Debian packages if missing), for
the measured requests only. Unlike CPU time it does not move with the host's
speed (the same build repeats within 0.2 %), so it tells two builds apart by 1 %
where timing needs many alternating runs. It does not see PostgreSQL, the
kernel or cache misses: confirm a gain with timing or ``make bench``.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.tools import ensure_command

PARTS = 1000
# What ``scenarios`` returns, in the order they run when none is named.
SCENARIO_NAMES = ("orders", "items", "floor")
# Set in the process that callgrind runs: it counts the measured requests only.
UNDER_CALLGRIND = "BENCH_INPROCESS_UNDER_CALLGRIND"
# callgrind counts inside this C function only: the measured loop runs in it, nothing else calls it.
COUNTED_FUNCTION = "starmap_next"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maintenance.settings")
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ.setdefault("REQUEST_LOG_LEVEL", "INFO")
    import django

    django.setup()
    # The request log line is part of the cost; where it goes is not.
    import logging

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


def prepare() -> tuple[str, list[int]]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from inventory import services
    from inventory.models import SparePart
    from maintenance.accounts.services import issue_api_token

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-inprocess", defaults={"is_staff": True, "is_superuser": True}
    )
    for n in range(SparePart.objects.count(), PARTS):
        services.create_spare_part(name=f"Bolt {n}", sku=f"B-STL-M{n}-50", price="1.50", stock=10**9)
    # Statistics as autovacuum would have them (without, a new database plans the page as a sort of every part).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_sparepart, inventory_category")
    return issue_api_token(user=user).key, list(SparePart.objects.values_list("id", flat=True)[:PARTS])


class Client:
    def __init__(self, token: str):
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.token = token

    def call(self, method: str, path: str, query: str = "", body: bytes = b"") -> tuple[str, bytes]:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Token {self.token}",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        statuses = []
        result = self.handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
        content = b"".join(result)
        result.close()
        return statuses[0], content


def scenarios(client: Client, part_ids: list[int]):
    run = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def orders() -> None:
        body = {
            "request_id": f"inprocess-{run}-{next(counter)}",
            "client_name": "Bench",
            "items": [{"spare_part_id": random.choice(part_ids), "quantity": 1}],
        }
        status, content = client.call("POST", "/api/v1/orders/", body=json.dumps(body).encode())
        assert status.startswith("201"), (status, content[:300])

    def items() -> None:
        status, content = client.call("GET", "/api/v1/items/", "limit=50")
        assert status.startswith("200"), (status, content[:300])

    def floor() -> None:
        status, content = client.call("GET", "/api/v1/")
        assert status.startswith("200"), (status, content[:300])

    return {"orders": orders, "items": items, "floor": floor}


def backend_cpu_seconds() -> float:
    from django.db import connection

    connection.ensure_connection()
    stat = Path(f"/proc/{connection.connection.info.backend_pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, scenario, requests: int) -> None:
    for _ in range(min(100, requests)):  # warm-up: caches, prepared statements
        scenario()
    pg_before, cpu_before, wall_before = backend_cpu_seconds(), time.process_time(), time.perf_counter()
    for _ in range(requests):
        scenario()
    app = (time.process_time() - cpu_before) / requests * 1000
    pg = (backend_cpu_seconds() - pg_before) / requests * 1000
    wall = (time.perf_counter() - wall_before) / requests * 1000
    print(f"{name}: app CPU {app:.2f} ms, PostgreSQL backend CPU {pg:.2f} ms, wall {wall:.2f} ms per request")


def profile(scenario, requests: int) -> None:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(requests):
        scenario()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)


def statement_times(scenario, requests: int) -> None:
    from django.db import connection

    times: dict[str, list[float]] = collections.defaultdict(list)

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            times[re.sub(r"\s+", " ", sql)[:110]].append(time.perf_counter() - started)

    with connection.execute_wrapper(timed):
        for _ in range(requests):
            scenario()
    for sql, spent in sorted(times.items(), key=lambda item: -sum(item[1])):
        print(f"{len(spent) / requests:5.1f} x {1000 * sum(spent) / len(spent):6.3f} ms  {sql}")
    print(f"SQL wall time per request: {1000 * sum(map(sum, times.values())) / requests:.2f} ms")


def run_counted(scenario, requests: int) -> None:
    """The measured requests, driven by ``itertools.starmap`` (see ``COUNTED_FUNCTION``)."""
    for _ in range(min(100, requests)):  # warm-up: caches, prepared statements
        scenario()
    collections.deque(itertools.starmap(scenario, itertools.repeat((), requests)), maxlen=0)


def count_instructions(name: str, requests: int) -> None:
    """Run the scenario again in a process under callgrind and print its instructions per request."""
    valgrind = ensure_command("valgrind", log=lambda message: print(message, flush=True))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={COUNTED_FUNCTION}",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.inprocess",
            name,
            "--requests",
            str(requests),
        ]
        env = {**os.environ, UNDER_CALLGRIND: "1"}
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    if not totals:
        raise RuntimeError(f"no instruction count in callgrind's output for {name}")
    print(f"{name}: {int(totals.group(1)) / requests / 1e6:.3f} M instructions per request ({requests} requests)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="*", help="orders, items and/or floor (default: all three)")
    parser.add_argument("--requests", type=int, help="measured requests (500; 100 with --instructions)")
    parser.add_argument("--profile", action="store_true", help="cProfile the scenario (CPU time)")
    parser.add_argument("--queries", action="store_true", help="wall time per SQL statement")
    parser.add_argument("--instructions", action="store_true", help="instructions per request, under callgrind")
    args = parser.parse_args(argv)
    unknown = set(args.scenario) - set(SCENARIO_NAMES)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}: choose from {', '.join(SCENARIO_NAMES)}")
    names = args.scenario or list(SCENARIO_NAMES)
    if args.instructions:
        for name in names:
            count_instructions(name, args.requests or 100)
        return 0
    requests = args.requests or 500
    setup_django()
    token, part_ids = prepare()
    available = scenarios(Client(token), part_ids)
    if os.environ.get(UNDER_CALLGRIND):
        for name in names:
            run_counted(available[name], requests)
        return 0
    for name in names:
        measure(name, available[name], requests)
        if args.profile:
            profile(available[name], requests)
        if args.queries:
            statement_times(available[name], min(requests, 200))
    return 0


if __name__ == "__main__":
    sys.exit(main())
