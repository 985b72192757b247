"""``manage.py generate_bench_data --scale S``: the big benchmark data set of issue 24.

Benchmark tooling, not part of the running service: the work is in :mod:`bench.bigdata`
(``make bench-data`` creates and migrates the database, then calls this).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Fill a freshly migrated database with the big benchmark data set (bench/bigdata.py). Not for production."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1 M parts, 2 M orders, 10 M movements")

    def handle(self, *args, scale: float, **options):
        from bench.bigdata import generate

        if not 0 < scale <= 10:
            raise CommandError("--scale must be above 0 and at most 10.")
        try:
            generate(connection, scale=scale, out=self.stdout)
        except RuntimeError as error:
            raise CommandError(str(error)) from error
