"""A router whose routes match with and without the trailing slash.

The seed's clients call ``PATCH /api/v1/items/{sku}`` without one, so both forms
must route (a redirect would lose a PATCH body).
"""

from rest_framework.routers import DefaultRouter


class OptionalSlashRouter(DefaultRouter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"
