"""``api_datetime(value, zone)``: a timestamp as the API writes it, for reads built in SQL.

DRF's ``DateTimeField`` writes ISO 8601 in the current time zone, microseconds
only when there are some, and ``Z`` for a zero offset. Reads whose JSON
PostgreSQL builds (``inventory.selectors.part_page``) use this function, so the
format has one home on each side; a test holds the two against each other.

One SQL expression, so the planner inlines it (no function call per value); the
time-zone arithmetic only runs for zones other than UTC.
Offsets are written as ``+HH:MM``; the few zones whose offset has seconds (local
mean time, before about 1900) would differ from Python in the seconds.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION api_datetime(value timestamptz, zone text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT to_char(value AT TIME ZONE zone, CASE WHEN date_trunc('second', value) = value
                                              THEN 'YYYY-MM-DD"T"HH24:MI:SS' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US' END)
    || CASE WHEN zone = 'UTC' OR value AT TIME ZONE zone = value AT TIME ZONE 'UTC' THEN 'Z'
            WHEN value AT TIME ZONE zone > value AT TIME ZONE 'UTC'
                THEN '+' || to_char((value AT TIME ZONE zone) - (value AT TIME ZONE 'UTC'), 'HH24:MI')
            ELSE '-' || to_char((value AT TIME ZONE 'UTC') - (value AT TIME ZONE zone), 'HH24:MI') END
$$
"""

DROP = "DROP FUNCTION IF EXISTS api_datetime(timestamptz, text)"


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0003_drop_redundant_movement_part_index"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
