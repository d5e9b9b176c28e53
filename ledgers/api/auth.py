"""Who may call the API, how often, and with how much.

A token is `Authorization: Bearer wf_…`. Only the SHA-256 of the secret is stored; the first
characters (the prefix) are kept in clear so an administrator can tell tokens apart. Each token
acts as its own service account in the token's unit (ApiToken.user), holding the roles that its
scopes need, so every role and scope rule of ledgers/services.py applies unchanged:

    problems:write  push problems (no role: the scope is the permission)
    items:read      read the ledger the unit sees
    items:write     progress notes and closure requests, on items the account owns (role 责任人)
    items:review    approve or return closure requests in the unit's subtree (role 督办人员)
    figures:read    the circular's figures of the unit's subtree (role 办公室人员)

A person signed in to the site may call the API from the browser with their session (and CSRF
token); scopes do not apply to them, their roles do, as on the pages.
"""

import io
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from ..models import Role, User
from ..roles import grant
from .models import TOKEN_PREFIX_LENGTH, ApiToken, Scope, hash_secret

TOKEN_MARK = "wf_"
SCOPE_ROLES = {Scope.ITEMS_WRITE: Role.OWNER, Scope.ITEMS_REVIEW: Role.SUPERVISOR, Scope.FIGURES_READ: Role.OFFICE}
# What a signed-in person needs for an endpoint, in place of a token's scope.
SESSION_ROLES = {
    Scope.PROBLEMS_WRITE: (Role.LEADER, Role.SUPERVISOR, Role.OFFICE, Role.ADMIN),
    Scope.FIGURES_READ: (Role.OFFICE, Role.LEADER, Role.SUPERVISOR, Role.ADMIN),  # as the reports pages
}
LAST_USED_PRECISION = timedelta(minutes=1)  # one UPDATE a minute per token, not one per call


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def issue_token(token, *, created_by=None):
    """Give an unsaved ApiToken (name, unit, scopes set) its secret and service account; save it
    and return the secret, which is never stored and cannot be shown again."""
    secret = TOKEN_MARK + secrets.token_urlsafe(32)
    token.prefix = secret[len(TOKEN_MARK):len(TOKEN_MARK) + TOKEN_PREFIX_LENGTH]
    token.secret_hash = hash_secret(secret)
    account = User(username=f"api-{uuid.uuid4().hex[:16]}", unit=token.unit, last_name=_("接口账号："),
                   first_name=token.name[:150])
    account.set_unusable_password()  # it can never sign in to the site
    account.save()
    grant(account, *[SCOPE_ROLES[scope] for scope in token.scopes if scope in SCOPE_ROLES])
    token.user = account
    token.created_by = created_by
    token.save()
    return secret


@transaction.atomic
def revoke_token(token):
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    User.objects.filter(pk=token.user_id).update(is_active=False)
    token.revoked_at = token.revoked_at or now


class TokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != b"bearer":
            return None
        if len(words) != 2:
            raise exceptions.AuthenticationFailed(_("令牌格式不正确：应为“Authorization: Bearer 令牌”。"))
        try:
            secret = words[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("令牌无效或已吊销。")) from None
        token = (ApiToken.objects.usable().select_related("user", "user__unit", "unit")
                 .filter(secret_hash=hash_secret(secret)).first())
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("令牌无效或已吊销。"))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="walkflow"'


def token_of(request):
    return request.auth if isinstance(request.auth, ApiToken) else None


def require(scope):
    """The permission class for an endpoint needing `scope` (token) or its roles (session)."""

    class ScopeRequired(BasePermission):
        message = _("该令牌没有“%(scope)s”权限。") % {"scope": scope}

        def has_permission(self, request, view):
            user = request.user
            if not user or not user.is_authenticated:
                return False
            token = token_of(request)
            if token is not None:
                return token.has_scope(scope)
            roles = SESSION_ROLES.get(scope)
            if roles is None:
                return bool(user.roles)
            self.message = _("您的角色不能使用此接口。")
            return user.has_role(*roles)

    ScopeRequired.__name__ = f"Scope_{scope.replace(':', '_')}"
    ScopeRequired.scope = scope
    return ScopeRequired


# ---------------------------------------------------------------------------------------------
# Rate and size limits
# ---------------------------------------------------------------------------------------------


class TokenRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per token (or per signed-in user, or per address) in Django's cache."""

    scope = "api"

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        token = token_of(request)
        if token is not None:
            ident = f"token-{token.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return f"walkflow-api-rate-{ident}"


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"

    def __init__(self):
        super().__init__(_("提交的数据超过 %(mb)d MB 的上限。") % {"mb": settings.API_MAX_BODY_BYTES // (1024 * 1024)})


class LimitedJSONParser(JSONParser):
    """JSON bodies up to API_MAX_BODY_BYTES, counted as they are read (a client may lie in
    Content-Length or send none)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge()
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise BodyTooLarge()
        return super().parse(io.BytesIO(data), media_type, parser_context)


class TokenScheme(OpenApiAuthenticationExtension):
    """Tells the schema (and Swagger UI's 'Authorize' button) how a token is sent."""

    target_class = TokenAuthentication
    name = "BearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": _("接口令牌：Authorization: Bearer wf_…")}
