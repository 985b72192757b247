# Issue 24: the orders' default order (newest first, ties by id) from one index, which
# replaces the single-column date_created index it makes redundant; ?ordering=-total from
# an index. Built CONCURRENTLY.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0004_search_trigram_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="serviceorder",
            index=models.Index(fields=["-date_created", "-id"], name="orders_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="serviceorder",
            index=models.Index(fields=["-total", "-id"], name="orders_total_idx"),
        ),
        migrations.AlterField(
            model_name="serviceorder",
            name="date_created",
            field=models.DateTimeField(auto_now_add=True),
        ),
    ]
