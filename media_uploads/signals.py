"""Remove an image's objects from S3 once its row is gone for good.

The delete runs after the transaction commits: a rolled-back delete keeps both
the row and the objects, so no row ever points at nothing.
"""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from media_uploads.models import ServiceOrderImage


@receiver(post_delete, sender=ServiceOrderImage, dispatch_uid="media_uploads:delete_objects")
def delete_objects_after_commit(sender, instance, **kwargs):
    from media_uploads.services import delete_stored_objects

    names = [name for name in (instance.image.name, instance.thumbnail.name) if name]
    if names:
        transaction.on_commit(lambda: delete_stored_objects(names))
