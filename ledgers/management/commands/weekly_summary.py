"""python manage.py weekly_summary --week 2022-W20 [--unit CODE] [--format xlsx|docx|pdf] [--out FILE]

Without --out the summary is stored as the Report of that week and scope (replacing an earlier
one); with --out it is only written to the file. No e-mail is sent from the command.
"""

from django.core.management.base import BaseCommand

from ledgers.models import Report

from .circular import FORMATS, run


class Command(BaseCommand):
    help = "生成周汇总"

    def add_arguments(self, parser):
        parser.add_argument("--week", required=True, help="ISO 周次，如 2022-W20")
        parser.add_argument("--unit", help="单位代码；不填则为全部顶级单位")
        parser.add_argument("--format", choices=FORMATS, default="xlsx",
                            help="xlsx：汇总表；docx：公文；pdf：公文的 PDF（需要 LibreOffice）")
        parser.add_argument("--out", help="输出文件路径；不填则保存为系统中的报表（Excel）")

    def handle(self, *args, **options):
        run(self, Report.Kind.WEEKLY, options["week"], options.get("unit"), options.get("out"), options["format"])
