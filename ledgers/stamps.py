"""The database's change stamps (ChangeStamp rows, renewed by triggers in the writing transaction:
migrations 0006, 0012, 0013), read at most once per request.

Cached things are keyed by them: the choice lists and the calendar's overrides by "choices", the
dashboard's figures by "figures" and "choices". A page that needs several of them reads all stamps
in one query at its first need; within a request the stamps are not read again. Outside a request
(tasks, commands) every call reads them, so nothing there can hold an old value.
"""

from contextvars import ContextVar

_request_stamps = ContextVar("walkflow_request_stamps", default=None)


def current(name):
    stamps = _request_stamps.get()
    if stamps is None or not stamps:
        from .models import ChangeStamp

        read = dict(ChangeStamp.objects.values_list("name", "value"))
        if stamps is None:
            return read.get(name, 0)
        stamps.update(read)
    return stamps.get(name, 0)


class ReadOncePerRequest:
    """Middleware: the stamps read during a request are remembered until it ends."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_stamps.set({})
        try:
            return self.get_response(request)
        finally:
            _request_stamps.reset(token)
