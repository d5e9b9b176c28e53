from ledgers.imports.command import LedgerImportCommand


class Command(LedgerImportCommand):
    help = "导入 Excel 整改台账到一个单位"
