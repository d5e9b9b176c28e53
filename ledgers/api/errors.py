"""One error shape for every refusal, with a message in Chinese:

    {"error": {"code": "invalid", "message": "请检查提交的数据。",
               "fields": {"item.deadline": "整改时限不能早于今天。"}}}

`fields` is present only when particular fields are at fault; keys are dotted paths.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .. import services

MESSAGES = {
    exceptions.NotAuthenticated: lambda exc: _("请提供接口令牌（Authorization: Bearer 令牌）或先登录。"),
    exceptions.NotFound: lambda exc: _("对象不存在或不在您的范围内。"),
    exceptions.ParseError: lambda exc: _("提交的数据不是有效的 JSON。"),
    exceptions.UnsupportedMediaType: lambda exc: _("请以 application/json 提交数据。"),
    exceptions.MethodNotAllowed: lambda exc: _("不支持该请求方法。"),
    exceptions.NotAcceptable: lambda exc: _("只提供 application/json 格式的响应。"),
    exceptions.Throttled: lambda exc: _("请求过于频繁，请 %(s)d 秒后重试。") % {"s": exc.wait or 1},
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Refused(exceptions.APIException):
    """The request is understood but the item's state or the rules refuse it."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


def field_errors(detail, prefix=""):
    """{"a.b": "message"} from DRF's nested error detail: the first message of each field."""
    flat = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(field_errors(value, path))
    elif isinstance(detail, list):
        if detail and all(not isinstance(entry, (dict, list)) for entry in detail):
            flat[prefix or "non_field_errors"] = str(detail[0])
        else:
            for index, value in enumerate(detail):
                flat.update(field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    elif detail is not None:
        flat[prefix or "non_field_errors"] = str(detail)
    return flat


def error_response(code, message, status_code, fields=None, headers=None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=status_code, headers=headers)


def exception_handler(exc, context):
    from .intake import Rejected as RejectedInput

    if isinstance(exc, RejectedInput):
        return error_response("conflict" if exc.status == 409 else "invalid", exc.message, exc.status, exc.fields)
    if isinstance(exc, services.StaleItem):
        exc = Conflict(exc.message)
    elif isinstance(exc, services.Refused):
        exc = Refused(exc.message)
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or _("无权进行此操作。"))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    headers = {name: value for name, value in response.items() if name in ("Retry-After", "WWW-Authenticate")}
    if isinstance(exc, exceptions.ValidationError):
        fields = field_errors(exc.detail)
        only = list(fields.values())
        message = only[0] if list(fields) == ["non_field_errors"] else _("请检查提交的数据。")
        return error_response("invalid", message, response.status_code, fields, headers)
    codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
    code = codes if isinstance(codes, str) else "error"
    for kind, message in MESSAGES.items():
        if isinstance(exc, kind):
            return error_response(code, message(exc), response.status_code, headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else _("请求无法处理。")
    return error_response(code, str(detail), response.status_code, headers=headers)
