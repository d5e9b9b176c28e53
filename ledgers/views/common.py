"""Helpers every view uses to stay inside the user's scope."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404


def get_visible_or_404(model, user, **lookup):
    """The object if the user's scope includes it; 404 otherwise, so that existence is not leaked."""
    return get_object_or_404(model.objects.visible_to(user), **lookup)


def role_required(*roles):
    """Allow the view to users holding one of the roles (403 otherwise). Use after @login_required."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.has_role(*roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
