"""The database's change stamps (ChangeStamp rows, renewed by triggers in the writing transaction:
migrations 0006, 0012, 0013), read at most once per request.

Cached things are keyed by them: the choice lists, the signed-in user's roles and unit and the
calendar's overrides by "choices", the dashboard's figures by "figures" and "choices". A page that
needs several of them reads all stamps in one query at its first need; within a request the stamps
are not read again. Outside a request (tasks, commands) every call reads them.

A request that opens a transaction after the stamps were read (a service writing units, an import)
reads them again inside it: what it reads there may belong to its own uncommitted writes, and must
be kept under the stamp those writes gave, which no one else will see if the transaction rolls back,
never under the stamp read before.
"""

import logging
from contextvars import ContextVar

from django.core.cache import caches
from django.db import connection

CACHE_SECONDS = 3600
_request_stamps = ContextVar("walkflow_request_stamps", default=None)
logger = logging.getLogger(__name__)


def current(name):
    memo = _request_stamps.get()
    depth = len(connection.atomic_blocks)
    if memo is not None and memo.get("depth") == depth:
        return memo["stamps"].get(name, 0)
    from .models import ChangeStamp

    stamps = dict(ChangeStamp.objects.values_list("name", "value"))
    if memo is not None and "depth" not in memo:  # the request's first read
        memo.update(depth=depth, stamps=stamps)
    return stamps.get(name, 0)


def _key(kind, under, parts):
    return ":".join(["walkflow", kind, *(str(current(name)) for name in under), *(str(part) for part in parts)])


def kept(kind, under, parts, compute, store="default"):
    """compute(), kept in Django's cache (Redis in production, local memory otherwise) under the
    stamps named in `under` and the other `parts` of the key: the next request after a change those
    stamps cover reads new stamps and computes again, in every process. A cache server that is down
    makes the page slower, never broken. `store` names the cache (settings.CACHES)."""
    cache = caches[store]
    key = _key(kind, under, parts)
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("cache unavailable: %s computed without it", kind, exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, CACHE_SECONDS)
        except Exception:
            logger.warning("cache unavailable: %s not kept", kind, exc_info=True)
    return value


def kept_many(kind, under, parts, names, compute, store="rendered"):
    """kept() for many values of one kind at once ({name: value} for each of `names`, keyed as
    kept() keys one value, plus the name): compute(missing names) gives {name: value} for those the
    cache does not hold, and only those are computed."""
    cache = caches[store]
    prefix = _key(kind, under, parts)
    keys = {name: f"{prefix}:{name}" for name in names}
    try:
        found = cache.get_many(list(keys.values()))
    except Exception:
        logger.warning("cache unavailable: %s computed without it", kind, exc_info=True)
        return compute(list(names))
    values = {name: found[key] for name, key in keys.items() if key in found}
    missing = [name for name in names if name not in values]
    if missing:
        computed = compute(missing)
        values.update(computed)
        try:
            cache.set_many({keys[name]: value for name, value in computed.items()}, CACHE_SECONDS)
        except Exception:
            logger.warning("cache unavailable: %s not kept", kind, exc_info=True)
    return values


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
