"""Django's CommonMiddleware, redirecting to the slashed URL only for reads.

``APPEND_SLASH`` answers a path that resolves only with a trailing slash with a
redirect. A redirect drops a write's body, so Django raises instead under
``DEBUG`` (a 500 page for ``PATCH /admin``) and redirects the write to a GET
otherwise. A write to such a path is answered as not found instead: JSON under
``/api/`` (whose routes take both forms anyway), the ordinary 404 elsewhere.
"""

from django.middleware import common

REDIRECTED_METHODS = {"GET", "HEAD", "OPTIONS"}  # no body to lose


class CommonMiddleware(common.CommonMiddleware):
    def should_redirect_with_slash(self, request):
        return request.method in REDIRECTED_METHODS and super().should_redirect_with_slash(request)
