"""Trigram indexes for ?search=, on the expression the search compares (issue 22, finding 3).

Django's icontains is ``UPPER(col::text) LIKE UPPER('%term%')``: a GIN index with pg_trgm's
``gin_trgm_ops`` on that same expression answers it without reading every row. Written as SQL:
Django 5.2 puts an expression's operator class inside the expression's parentheses
(``OpClass(Upper(...))`` in an index is a syntax error), so the model declares nothing.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS orders_order_client_name_trgm ON orders_serviceorder USING gin ((UPPER(client_name::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS orders_order_client_email_trgm ON orders_serviceorder USING gin ((UPPER(client_email::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS orders_order_client_phone_trgm ON orders_serviceorder USING gin ((UPPER(client_phone::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS orders_order_request_id_trgm ON orders_serviceorder USING gin ((UPPER(request_id::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS orders_order_description_trgm ON orders_serviceorder USING gin ((UPPER(description::text)) gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS orders_order_client_name_trgm",
    "DROP INDEX IF EXISTS orders_order_client_email_trgm",
    "DROP INDEX IF EXISTS orders_order_client_phone_trgm",
    "DROP INDEX IF EXISTS orders_order_request_id_trgm",
    "DROP INDEX IF EXISTS orders_order_description_trgm",
]


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_request_id_unique_while_user_set")]

    operations = [
        TrigramExtension(),  # pg_trgm is a trusted extension: the database owner may create it
        migrations.RunSQL(CREATE, DROP),
    ]
