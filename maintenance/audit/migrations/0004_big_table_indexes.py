# Issue 24: the trail's default order (newest first, ties by id) replaces the timestamp-only
# index; trigram search of object names; an order's History by the order id in its lines'
# rows. Built CONCURRENTLY (ten million rows), so not atomic.

import django.contrib.postgres.indexes
import django.db.models.fields.json
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently, TrigramExtension
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0003_audit_entries_plural"),
    ]

    operations = [
        TrigramExtension(),
        AddIndexConcurrently(
            model_name="auditor",
            index=models.Index(fields=["-timestamp", "-id"], name="audit_time_id_idx"),
        ),
        RemoveIndexConcurrently(
            model_name="auditor",
            name="audit_time_idx",
        ),
        AddIndexConcurrently(
            model_name="auditor",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("object_repr"), name="gin_trgm_ops"
                ),
                name="audit_object_repr_trgm",
            ),
        ),
        AddIndexConcurrently(
            model_name="auditor",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.fields.json.KeyTransform("order_id", "changes"), name="jsonb_path_ops"
                ),
                condition=models.Q(("changes__has_key", "order_id")),
                name="audit_changes_order_idx",
            ),
        ),
    ]
