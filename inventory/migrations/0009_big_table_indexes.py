# Issue 24: the ledger's default order and the parts' price (the parts' trigram indexes are 0008's).
# Built CONCURRENTLY (no lock on writes while ten million rows are indexed), so not atomic.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inventory", "0008_search_trigram_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="stockmovement",
            index=models.Index(fields=["-date_created", "-id"], name="inventory_movement_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="sparepart",
            index=models.Index(fields=["price"], name="inventory_sparepart_price_idx"),
        ),
    ]
