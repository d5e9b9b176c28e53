from ledgers.imports.command import UsersImportCommand


class Command(UsersImportCommand):
    help = "导入人员名册（姓名、用户名、手机号、单位、角色、职务）；新账号发放激活码"
