"""Trigram indexes for ?search=, on the expression the search compares (issue 22, finding 3).

Django's icontains is ``UPPER(col::text) LIKE UPPER('%term%')``: a GIN index with pg_trgm's
``gin_trgm_ops`` on that same expression answers it without reading every row. Written as SQL:
Django 5.2 puts an expression's operator class inside the expression's parentheses
(``OpClass(Upper(...))`` in an index is a syntax error), so the model declares nothing.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS inventory_part_name_trgm ON inventory_sparepart USING gin ((UPPER(name::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS inventory_part_sku_trgm ON inventory_sparepart USING gin ((UPPER(sku::text)) gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS inventory_part_name_trgm",
    "DROP INDEX IF EXISTS inventory_part_sku_trgm",
]


class Migration(migrations.Migration):
    dependencies = [("inventory", "0007_reorder_level_and_stock_reasons")]

    operations = [
        TrigramExtension(),  # pg_trgm is a trusted extension: the database owner may create it
        migrations.RunSQL(CREATE, DROP),
    ]
