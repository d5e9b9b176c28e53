from .models import Notification, Role


def walkflow(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    unread = getattr(user, "unread_notifications", None)  # read with the user by ledgers.roles.UserBackend
    if unread is None:
        # A lazy callable: pages that never show the header pay no query for it.
        def unread():
            return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
    return {"unread_notifications": unread, "roles": user.roles, "Role": Role}
