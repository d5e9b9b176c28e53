"""manage.py create_api_token --unit CODE --scopes problems:write,items:read [--name NAME]

Prints the token once; only its SHA-256 is stored."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ledgers.api.auth import issue_token
from ledgers.api.models import ApiToken, Scope
from ledgers.models import Unit


class Command(BaseCommand):
    help = "创建接口令牌（只显示一次）"

    def add_arguments(self, parser):
        parser.add_argument("--unit", required=True, help="单位代码")
        parser.add_argument("--scopes", required=True, help=f"逗号分隔：{','.join(Scope.values)}")
        parser.add_argument("--name", default="", help="名称，例如 12345热线平台")

    def handle(self, *args, unit, scopes, name, **options):
        found = Unit.objects.filter(code=unit, is_active=True).first()
        if found is None:
            raise CommandError(f"单位代码 {unit} 不存在或已停用。")
        token = ApiToken(name=name or f"接口令牌 {unit}", unit=found,
                         scopes=sorted({scope.strip() for scope in scopes.split(",") if scope.strip()}))
        try:
            token.full_clean(exclude=["prefix", "secret_hash", "user"])
        except ValidationError as error:
            raise CommandError("；".join(error.messages)) from None
        secret = issue_token(token)
        self.stdout.write(f"已创建接口令牌“{token.name}”（{found.name}，{','.join(token.scopes)}）。")
        self.stdout.write("令牌只显示这一次，请立即保存：")
        self.stdout.write(secret)
