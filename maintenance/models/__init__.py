"""Abstract models shared by the apps."""

from django.db import models


class TimestampedModel(models.Model):
    """Creation and last-update times, as the seed's Auditor mixin had them."""

    date_created = models.DateTimeField(auto_now_add=True, db_index=True)
    date_updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
