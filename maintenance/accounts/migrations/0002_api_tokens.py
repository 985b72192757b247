"""Hashed, expiring API tokens replace DRF's plaintext ``authtoken_token`` (issue 22).

Tokens issued before keep working: each key is moved over as its digest, valid for
``API_TOKEN_TTL_DAYS`` from now. Then the plaintext table goes, with its migration records,
so no copy of the database holds a usable key. ``rest_framework.authtoken`` is no longer
installed, so its table is reached with SQL, and only when it exists (a new database never
had it).
"""

import hashlib
from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    from django.utils import timezone

    ApiToken = apps.get_model("accounts", "ApiToken")
    expires_at = timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            name="moved from the plaintext tokens",
            digest=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:8],
            expires_at=expires_at,
        )
        for key, user_id, _created in rows
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(blank=True, help_text='What the token is for, e.g. the device or client using it.', max_length=100, verbose_name='name')),
                ('digest', models.CharField(editable=False, max_length=64, unique=True, verbose_name='digest')),
                ('prefix', models.CharField(editable=False, max_length=8, verbose_name='starts with')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('expires_at', models.DateTimeField(db_index=True, verbose_name='expires')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'API token',
                'verbose_name_plural': 'API tokens',
                'ordering': ['-created_at'],
            },
        ),
        migrations.RunPython(move_plaintext_tokens, migrations.RunPython.noop),
    ]
