from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _


def changed_fields():
    """The names of the fields an audit row changed (its ``changes``' keys), as a ``text[]``.

    ``audit_changes_keys`` is an IMMUTABLE SQL function (migration 0005), so an index can
    hold it: ``changed_fields() && ARRAY['price']`` ("rows that changed the price") is
    answered by ``audit_changed_fields_idx``. A GIN index on the whole ``changes`` (what
    ``changes ?| …`` could use) indexes every value too: 17 times the size on the bench data
    (32 MB against 1.9 MB for 400,000 rows), written on every audit row.
    """
    return Func(F("changes"), function="audit_changes_keys", output_field=ArrayField(models.TextField()))


class Auditor(models.Model):
    """One change of one business object: who, what, old → new, when, which request."""

    class Action(models.TextChoices):
        CREATE = "create", _("Create")
        UPDATE = "update", _("Update")
        DELETE = "delete", _("Delete")

    # The foreign keys' own indexes would duplicate the first column of
    # audit_object_idx / audit_actor_idx: three rows are written per order, and
    # every index is one more insertion each.
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("content type")
    )
    object_id = models.CharField(max_length=64, verbose_name=_("object id"))
    object_repr = models.CharField(max_length=200, blank=True, verbose_name=_("object repr"))
    action = models.CharField(max_length=10, choices=Action.choices, verbose_name=_("action"))
    changes = models.JSONField(
        default=dict, blank=True, help_text=_('{"field": [old, new]}'), verbose_name=_("changes")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        db_index=False,
        verbose_name=_("actor"),
    )
    request_id = models.CharField(
        max_length=64, blank=True, verbose_name=_("request id"), help_text=_("The server's id of the request.")
    )
    # The X-Request-ID the client sent, if any: kept for correlation, never taken for the server's.
    client_request_id = models.CharField(
        max_length=64, blank=True, default="", db_default="", verbose_name=_("client request id")
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("remote addr"))
    timestamp = models.DateTimeField(auto_now_add=True, verbose_name=_("timestamp"))

    class Meta:
        ordering = ["-timestamp", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["content_type", "object_id", "-timestamp"], name="audit_object_idx"),
            models.Index(fields=["actor", "-timestamp"], name="audit_actor_idx"),
            # The trail's default order, newest first, ties by id.
            models.Index(fields=["-timestamp", "-id"], name="audit_time_id_idx"),
            # Exact lookups only: no second, pattern-ops index as db_index=True makes.
            models.Index(fields=["request_id"], name="audit_request_idx"),
            # Only rows whose client sent an id: no cost for the others (most writes).
            models.Index(
                fields=["client_request_id"],
                name="audit_client_request_idx",
                condition=~models.Q(client_request_id=""),
            ),
            # The admin's search by object name (icontains is UPPER(col) LIKE UPPER('%…%')).
            GinIndex(OpClass(Upper("object_repr"), name="gin_trgm_ops"), name="audit_object_repr_trgm"),
            # An order's History: its lines' and photos' rows carry the order id in their changes.
            GinIndex(
                OpClass(KeyTransform("order_id", "changes"), name="jsonb_path_ops"),
                condition=Q(changes__has_key="order_id"),
                name="audit_changes_order_idx",
            ),
            # The admin's search by field ("price", "reorder level").
            GinIndex(changed_fields(), name="audit_changed_fields_idx"),
        ]

    def __str__(self) -> str:
        # ContentType's own cache: no query for the title.
        model = ContentType.objects.get_for_id(self.content_type_id).model_class() if self.content_type_id else None
        kind = f"{model._meta.verbose_name} " if model is not None else ""
        subject = self.object_repr or self.object_id
        return f"{self.get_action_display()} of {kind}{subject}, {self.timestamp:%Y-%m-%d %H:%M}"
