"""Every foreign key used in a lookup has an index, and no index is written for nothing.

Lines by order, movements by part, audit rows by object: each join or filter on a
foreign key needs an index that starts with it (a missing one made an earlier
version of this service slow down by half with 200,000 orders). The other way
round, every index is maintained on every INSERT of the hot paths, so a
single-column index that only repeats the first column of a wider one is waste.
"""

import pytest
from django.apps import apps
from django.db import connection, models

pytestmark = pytest.mark.django_db

OUR_APPS = ("inventory", "orders", "media_uploads", "audit", "idempotency")

INDEXES_SQL = """
SELECT ic.relname, i.indisunique, i.indkey::int2[], i.indclass::oid[]
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE t.relname = %s
"""


def table_indexes(table: str) -> list[tuple[str, bool, list[int], list[int]]]:
    with connection.cursor() as cursor:
        cursor.execute(INDEXES_SQL, [table])
        return cursor.fetchall()


def column_number(table: str, column: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attnum FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s", [table, column]
        )
        return cursor.fetchone()[0]


def our_models():
    return [model for label in OUR_APPS for model in apps.get_app_config(label).get_models()]


def test_every_foreign_key_leads_an_index():
    missing = []
    for model in our_models():
        table = model._meta.db_table
        leading = {keys[0] for _, _, keys, _ in table_indexes(table)}
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and column_number(table, field.column) not in leading:
                missing.append(f"{table}.{field.column}")
    assert missing == []


def test_the_lookups_of_the_issue_are_indexed():
    def leads(table, column):
        number = column_number(table, column)
        return any(keys[0] == number for _, _, keys, _ in table_indexes(table))

    assert leads("orders_serviceorderitem", "order_id")
    assert leads("inventory_stockmovement", "spare_part_id")
    assert leads("audit_auditor", "content_type_id")


def test_no_single_column_index_repeats_the_lead_of_a_wider_one():
    redundant = []
    for model in our_models():
        indexes = table_indexes(model._meta.db_table)
        for name, unique, keys, classes in indexes:
            if unique or len(keys) != 1:
                continue
            for other, _, other_keys, other_classes in indexes:
                if len(other_keys) > 1 and other_keys[0] == keys[0] and other_classes[0] == classes[0]:
                    redundant.append(f"{name} (covered by {other})")
    assert redundant == []
