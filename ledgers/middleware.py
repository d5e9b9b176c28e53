import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils.translation import gettext as _

SIGNED_IN_AT = "walkflow_signed_in_at"


class SessionLifetimeMiddleware:
    """End a session 12 hours after sign-in however active it is (the idle timeout is the cookie's)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            started = request.session.setdefault(SIGNED_IN_AT, now)
            if now - started > settings.SESSION_ABSOLUTE_LIFETIME:
                logout(request)
                messages.info(request, _("登录已超过12小时，为了安全请重新登录。"))
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)
