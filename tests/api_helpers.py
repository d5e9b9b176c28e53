"""Tokens for API tests: `token_for(unit, *scopes)` returns (ApiToken, client sending it)."""

from django.core.cache import cache
from django.test import Client

from ledgers.api.auth import issue_token
from ledgers.api.models import ApiToken


def token_for(unit, *scopes, name="测试平台"):
    token = ApiToken(name=name, unit=unit, scopes=list(scopes))
    secret = issue_token(token)
    return token, Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


class FreshRateLimit:
    """The rate limit counts in the cache, which outlives a test's transaction: start each test at zero."""

    def setUp(self):
        super().setUp()
        cache.clear()
