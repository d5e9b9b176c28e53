from ledgers.imports.command import ImportCommand
from ledgers.models import ImportBatch


class Command(ImportCommand):
    help = "导入单位名册（单位名称、单位代码、上级单位、层级、类型）"
    kind = ImportBatch.Kind.UNITS
