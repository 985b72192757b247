"""Model permissions for the API, reads included.

DRF's ``DjangoModelPermissions`` lets any authenticated user read; here a read
needs the ``view`` permission too, and a refusal names the missing permission.
"""

from rest_framework import exceptions, permissions


class ModelPermissions(permissions.DjangoModelPermissions):
    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if getattr(view, "_ignore_model_permissions", False):
            # DRF's own flag, set by the router's API root: a page of links to the
            # collections, each of which checks its own permissions.
            return True
        required = self.required_permissions_for(request, view)
        missing = [perm for perm in required if not request.user.has_perm(perm)]
        if missing:
            raise exceptions.PermissionDenied(f"You need the permission {', '.join(missing)} to do this.")
        return True

    def required_permissions_for(self, request, view) -> list[str]:
        # A view may ask for other permissions per action (e.g. change_serviceorder
        # to add a line to an order) through ``required_permissions``.
        custom = getattr(view, "required_permissions", None)
        if custom and getattr(view, "action", None) in custom:
            return list(custom[view.action])
        return self.get_required_permissions(request.method, self._model(view))

    def _model(self, view):
        # GenericAPIView.get_queryset clones the queryset (and its prefetches) only to be asked its model.
        from rest_framework.generics import GenericAPIView  # not at import: DRF's settings import this module

        queryset = getattr(view, "queryset", None)
        if queryset is not None and type(view).get_queryset is GenericAPIView.get_queryset:
            return queryset.model
        return self._queryset(view).model


class IsStaff(permissions.BasePermission):
    message = "Only staff can read the audit trail."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class CanReadAuditTrail(IsStaff):
    """Staff with the audit trail's view permission (``audit.view_auditor``); which entries they
    see is then narrowed to the models they may view (the view's queryset)."""

    message = "Reading the audit trail needs staff status and the audit.view_auditor permission."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.has_perm("audit.view_auditor")
