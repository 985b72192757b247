"""Drop ``api_datetime()``: the catalogue list is written by its serializer now, not built in SQL."""

from django.db import migrations

from importlib import import_module

# Unapplying recreates the function as migration 0004 wrote it.
previous = import_module("inventory.migrations.0004_api_datetime_function")

DROP = "DROP FUNCTION IF EXISTS api_datetime(timestamptz, text)"


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_sparepart_stock_lte_max"),
    ]

    operations = [migrations.RunSQL(DROP, previous.CREATE)]
