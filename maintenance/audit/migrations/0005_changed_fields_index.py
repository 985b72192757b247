# The admin's search by field ("price" finds the rows that changed a price): a GIN index on
# the names of the changed fields, through an IMMUTABLE function an index may hold. Built
# CONCURRENTLY (ten million rows), so not atomic.

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

CHANGES_KEYS = """
CREATE OR REPLACE FUNCTION audit_changes_keys(changes jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(changes) = 'object'
                THEN ARRAY(SELECT jsonb_object_keys(changes)) ELSE '{}'::text[] END
$$
"""


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0004_big_table_indexes"),
    ]

    operations = [
        migrations.RunSQL(CHANGES_KEYS, reverse_sql="DROP FUNCTION audit_changes_keys(jsonb)"),
        AddIndexConcurrently(
            model_name="auditor",
            index=django.contrib.postgres.indexes.GinIndex(
                models.Func(
                    models.F("changes"),
                    function="audit_changes_keys",
                    output_field=django.contrib.postgres.fields.ArrayField(base_field=models.TextField(), size=None),
                ),
                name="audit_changed_fields_idx",
            ),
        ),
    ]
