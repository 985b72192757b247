"""Token authentication that authenticates a request once.

The idempotency middleware needs the user before the view runs; the view's own
authentication then reuses that result instead of looking the token up again.
"""

from rest_framework.authentication import TokenAuthentication


class CachedTokenAuthentication(TokenAuthentication):
    cache_attr = "_cached_token_auth"

    def authenticate(self, request):
        django_request = getattr(request, "_request", request)
        cached = getattr(django_request, self.cache_attr, None)
        if cached is not None:
            return cached or None
        result = super().authenticate(request)
        setattr(django_request, self.cache_attr, result or ())
        return result
