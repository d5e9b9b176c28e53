"""What import_units, import_users and import_ledger share: the same front door as the pages,
acting as --user with that user's scope. Without --commit the preview is printed and nothing is
written; the exit status is 1 when a row is bad (and then --commit writes nothing either)."""

import os

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils.translation import gettext as _

from ..models import PATH_STEP, Campaign, ImportBatch, Unit, User
from . import Job, Refused, commit, describe_for, import_unit_for, preview
from .activation import hand_out
from .workbooks import credentials


class ImportCommand(BaseCommand):
    kind = None

    def add_arguments(self, parser):
        parser.add_argument("file", help="要导入的 .xlsx / .xlsm / .csv 文件")
        parser.add_argument("--user", required=True, help="以该用户的身份和管辖范围导入")
        parser.add_argument("--commit", action="store_true", help="确认写入（不加时只预览，不写入任何内容）")

    def handle(self, *args, **options):
        actor = User.objects.filter(username=options["user"]).select_related("unit").first()
        if actor is None:
            raise CommandError(_("用户“%(name)s”不存在") % {"name": options["user"]})
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(_("文件不存在：%(path)s") % {"path": path})
        job = Job(kind=self.kind, actor=actor, path=path, original_name=os.path.basename(path),
                  **self.job_fields(actor, options))
        try:
            result = preview(job)
        except Refused as error:
            raise CommandError(error.message) from None
        self.print_plan(result)
        if result.errors:
            raise CommandError(_("有 %(n)s 行数据有误，未写入任何内容。") % {"n": len(result.errors)}, returncode=1)
        if not options["commit"]:
            self.stdout.write(_("预览完成，未写入任何内容；确认无误后加 --commit 导入。"))
            return
        batch = self.store(job, actor)
        try:
            result = commit(job, batch)
        except Refused as error:
            batch.status, batch.error = ImportBatch.Status.FAILED, error.message
            batch.save(update_fields=["status", "error"])
            raise CommandError(error.message, returncode=1) from None
        self.stdout.write(self.style.SUCCESS(_("已导入：新建 %(c)s，更新 %(u)s，跳过 %(s)s。")
                                             % {"c": len(result.created), "u": len(result.updated),
                                                "s": len(result.skipped)}))
        self.after_commit(batch, options)

    def job_fields(self, actor, options):
        return {"unit": import_unit_for(actor)}

    def store(self, job, actor):
        """The ImportBatch that records who imported which file when, with a copy of the file."""
        batch = ImportBatch(kind=job.kind, created_by=actor, unit=job.unit, campaign=job.campaign,
                            original_name=job.original_name[:255], size=os.path.getsize(job.path),
                            mapping=job.mapping, options=job.options, status=ImportBatch.Status.COMMITTING)
        with open(job.path, "rb") as handle:
            batch.file.save(job.original_name, File(handle), save=False)
        batch.save()
        return batch

    def after_commit(self, batch, options):
        pass

    def print_plan(self, result):
        summary = result.summary(describe_for(result.kind))
        self.stdout.write(_("数据行 %(rows)s：新建 %(created)s，更新 %(updated)s，跳过 %(skipped)s，错误 %(errors)s")
                          % summary)
        for note in result.notes:
            self.stdout.write(f"  · {note}")
        for row, _item, changes in result.updated[:50]:
            shown = "；".join(f"{name}：{old} → {new}" for name, (old, new) in result.labelled(changes).items())
            self.stdout.write(_("  更新 %(sheet)s 第 %(row)s 行：%(changes)s") % {"sheet": row.sheet, "row": row.row,
                                                                           "changes": shown})
        for error in result.errors:
            hint = _("（建议：%(names)s）") % {"names": "、".join(error.suggestions)} if error.suggestions else ""
            self.stderr.write(_("  错误 %(sheet)s 第 %(row)s 行：%(message)s%(hint)s")
                              % {"sheet": error.sheet, "row": error.row, "message": error.message, "hint": hint})


class LedgerImportCommand(ImportCommand):
    kind = ImportBatch.Kind.LEDGER

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--unit", required=True, help="导入到该单位（单位代码）")
        parser.add_argument("--campaign", type=int, help="专项行动编号（默认：该单位可见的最近一个专项行动）")
        parser.add_argument("--default-category", default="", help="问题类别为空时归入的类别：system/process/coordination/window")
        parser.add_argument("--default-owner", default="", help="责任人为空时的责任人（用户名）")

    def job_fields(self, actor, options):
        unit = Unit.objects.filter(code=options["unit"]).first()
        if unit is None:
            raise CommandError(_("单位代码“%(code)s”不存在") % {"code": options["unit"]})
        ancestors = [unit.path[:i] for i in range(PATH_STEP + 1, len(unit.path) + 1, PATH_STEP + 1)]
        campaigns = Campaign.objects.filter(Q(unit__path__in=ancestors) | Q(unit__path__startswith=unit.path))
        if options["campaign"]:
            campaign = campaigns.filter(pk=options["campaign"]).first()
            if campaign is None:
                raise CommandError(_("该单位看不到编号为 %(id)s 的专项行动") % {"id": options["campaign"]})
        else:
            campaign = campaigns.order_by("-start_date", "-id").first()
        return {"unit": unit, "campaign": campaign,
                "options": {"default_category": options["default_category"],
                            "default_owner": options["default_owner"]}}


class UsersImportCommand(ImportCommand):
    kind = ImportBatch.Kind.USERS

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--credentials-out", help="新账号激活码写入此 .xlsx 文件（只能取得一次）")

    def after_commit(self, batch, options):
        target = options.get("credentials_out")
        if not target:
            self.stdout.write(_("激活码未导出：导入人可在导入页面下载一次。"))
            return
        rows = hand_out(batch)
        with open(target, "wb") as out:
            out.write(credentials(rows, "/activate/"))
        os.chmod(target, 0o600)
        self.stdout.write(_("%(n)s 个激活码已写入 %(path)s；请妥善保管，分发后删除。") % {"n": len(rows), "path": target})
