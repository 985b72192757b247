"""Abstract models shared by the apps."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimestampedModel(models.Model):
    """Creation and last-update times, as the seed's Auditor mixin had them."""

    date_created = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("date created"))
    date_updated = models.DateTimeField(auto_now=True, verbose_name=_("date updated"))

    class Meta:
        abstract = True
