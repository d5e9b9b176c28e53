"""python manage.py circular --month 2022-05 [--unit CODE] [--format xlsx|docx|pdf] [--out FILE]

Without --out the circular is stored as the Report of that month and scope (replacing an earlier
one), exactly as the monthly task does; with --out it is only written to the file: the workbook
(xlsx), the document (docx, a 公文 with the narrative drafted from the figures and the clerk's saved
paragraphs) or the document as PDF (through LibreOffice).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ledgers.reports.workbook import build_workbook
from ledgers.models import Report, Unit
from ledgers.reports.figures import Period, PeriodError
from ledgers.reports.jobs import ensure_report, record_failure, run_report


FORMATS = ("xlsx", "docx", "pdf")


def file_content(kind, scope, period, fmt):
    """The circular or summary in one of FORMATS, built by the code the report pages use."""
    if fmt == "xlsx":
        return build_workbook(kind, scope, period)
    from ledgers.reports.circulars import document_bytes
    from ledgers.reports.pdf import PdfUnavailable, to_pdf

    report = Report(kind=kind, period=period.label, period_start=period.start, period_end=period.end, scope=scope)
    saved = Report.objects.filter(kind=kind, period=period.label, scope=scope).first()
    content = document_bytes(saved or report)  # the clerk's saved paragraphs, when there are any
    if fmt == "docx":
        return content
    try:
        return to_pdf(content, "docx")
    except PdfUnavailable as error:
        raise CommandError(str(error)) from None


def run(command, kind, text, unit_code, out, fmt="xlsx"):
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
        path.write_bytes(file_content(kind, scopes[0], period, fmt))
        command.stdout.write(f"已生成 {path}")
        return
    if fmt != "xlsx":
        raise CommandError(f"--format {fmt} 需要与 --out 一起使用（系统中的报表保存为 Excel）。")
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
        parser.add_argument("--format", choices=FORMATS, default="xlsx",
                            help="xlsx：通报表；docx：公文；pdf：公文的 PDF（需要 LibreOffice）")
        parser.add_argument("--out", help="输出文件路径；不填则保存为系统中的报表（Excel）")

    def handle(self, *args, **options):
        run(self, Report.Kind.MONTHLY, options["month"], options.get("unit"), options.get("out"), options["format"])
