from .models import Notification, Role


def walkflow(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        # A lazy callable: pages that never show the header pay no query for it.
        "unread_notifications": lambda: Notification.objects.filter(recipient=user, read_at__isnull=True).count(),
        "roles": user.roles,
        "Role": Role,
    }
