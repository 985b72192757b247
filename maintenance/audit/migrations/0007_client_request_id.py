# Issue 22: the server's own request id is the audit's request_id; the X-Request-ID a client
# sent is kept beside it. Rows written before keep what they had (a client's id, when one was
# sent). The column's constant default makes adding it instant on a big table; the partial
# index holds only rows with a client id, built CONCURRENTLY (a scan of the trail, no lock).

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0006_translatable_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditor",
            name="client_request_id",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=64, verbose_name="client request id"
            ),
        ),
        migrations.AlterField(
            model_name="auditor",
            name="request_id",
            field=models.CharField(
                blank=True, help_text="The server's id of the request.", max_length=64, verbose_name="request id"
            ),
        ),
        AddIndexConcurrently(
            model_name="auditor",
            index=models.Index(
                condition=models.Q(("client_request_id", ""), _negated=True),
                fields=["client_request_id"],
                name="audit_client_request_idx",
            ),
        ),
    ]
