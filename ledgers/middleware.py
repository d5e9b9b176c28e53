import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils.translation import gettext as _

SIGNED_IN_AT = "walkflow_signed_in_at"
LAST_RENEWED = "walkflow_renewed_at"
# Renew the 30-minute idle window at most this often: a write on every request would cost three
# queries per page and a row update per click; renewing every 5 minutes keeps the idle timeout
# between 25 and 30 minutes.
RENEW_EVERY = 5 * 60


class SessionLifetimeMiddleware:
    """Idle timeout (the session cookie's age, renewed while the user is active) and an absolute
    end 12 hours after sign-in however active the user is."""

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
            if now - request.session.get(LAST_RENEWED, 0) > RENEW_EVERY:
                request.session[LAST_RENEWED] = now  # marks the session modified: saved, cookie renewed
        return self.get_response(request)
