"""Where a CSV import keeps its file between the preview and the confirmation: the object store.

django-import-export keeps it in the server's temporary folder by default; with several app
servers the confirmation can reach one that never saw the file. ``MediaStorage`` puts it in
the default storage (S3), which every server reads. The file's name comes back from the
browser in the confirmation form: only a name this class made (32 hex digits) is read, so a
tampered one cannot reach another object of the bucket.
"""

import re

from django.core.exceptions import SuspiciousOperation
from import_export.tmp_storages import MediaStorage

_GENERATED_NAME = re.compile(r"^[0-9a-f]{32}$")


class ImportFileStorage(MediaStorage):
    def get_full_path(self):
        if not _GENERATED_NAME.match(self.name or ""):
            raise SuspiciousOperation("The import's file name is not one this server gave.")
        return super().get_full_path()
