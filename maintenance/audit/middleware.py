from maintenance.audit import context


class AuditContextMiddleware:
    """Makes the current request (and so its user and id) visible to audit writes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = context.set_request(request)
        try:
            return self.get_response(request)
        finally:
            context.reset_request(token)
