"""python manage.py circular --month 2022-05 [--unit CODE] [--out FILE]

Without --out the circular is stored as the Report of that month and scope (replacing an earlier
one), exactly as the monthly task does; with --out it is only written to the file.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ledgers.reports.workbook import build_workbook
from ledgers.models import Report, Unit
from ledgers.reports.figures import Period, PeriodError
from ledgers.reports.jobs import ensure_report, record_failure, run_report


def run(command, kind, text, unit_code, out):
    """Shared with weekly_summary; the same code the Celery tasks run."""
    try:
        period = Period.parse(kind, text)
    except PeriodError as error:
        raise CommandError(str(error)) from None
    if period.start > timezone.localdate():
        raise CommandError(f"{period.title()}尚未开始，不能生成报表。")
    if unit_code:
        scopes = list(Unit.objects.filter(code=unit_code))
        if not scopes:
            raise CommandError(f"找不到单位代码 {unit_code}。")
    else:
        scopes = list(Unit.objects.filter(parent__isnull=True, is_active=True).order_by("sort_order", "path"))
        if not scopes:
            raise CommandError("系统中还没有单位。")
    if out:
        if len(scopes) > 1:
            raise CommandError("有多个顶级单位，使用 --out 时请用 --unit 指定一个。")
        path = Path(out)
        if not path.parent.exists():
            raise CommandError(f"目录不存在：{path.parent}")
        path.write_bytes(build_workbook(kind, scopes[0], period))
        command.stdout.write(f"已生成 {path}")
        return
    for scope in scopes:
        report, fresh = ensure_report(kind, period, scope)
        if not fresh:
            raise CommandError(f"{scope.name} {period.label} 的报表正在生成中，请稍后再试。")
        try:
            report = run_report(report.pk)
        except Exception as error:
            record_failure(report.pk, error, final=True)
            raise CommandError(f"{scope.name} {period.label} 生成失败：{error}") from error
        command.stdout.write(f"已生成 {scope.name} {period.label}：{report.file.path}")


class Command(BaseCommand):
    help = "生成月通报（走流程、解难题、优服务 行动情况通报）"

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="月份，如 2022-05")
        parser.add_argument("--unit", help="单位代码；不填则为全部顶级单位")
        parser.add_argument("--out", help="输出文件路径（.xlsx）；不填则保存为系统中的报表")

    def handle(self, *args, **options):
        run(self, Report.Kind.MONTHLY, options["month"], options.get("unit"), options.get("out"))
