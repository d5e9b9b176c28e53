from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from ledgers.demo import DEMO_PASSWORD, demo_usernames, load_demo
from ledgers.models import Role, User


class Command(BaseCommand):
    help = "载入演示数据（可重复运行，不会重复创建）。Load the demo province; safe to run again."

    def handle(self, *args, **options):
        try:
            summary = load_demo()
        except IntegrityError as error:
            # Units of an earlier demo hold the paths the fixture gives: nothing was written.
            raise CommandError(f"数据库中有旧版演示数据，与演示数据文件冲突，未作任何修改。请先运行 make clean-db。（{error}）") from None
        self.stdout.write(self.style.SUCCESS(
            "演示数据已就绪：{units} 个单位，{users} 个用户，{walks} 次走流程，{problems} 个问题，{items} 条整改措施".format(
                **summary)))
        labels = dict(Role.choices)
        self.stdout.write(f"\n演示账号（密码均为 {DEMO_PASSWORD}）：")
        users = User.objects.filter(username__in=demo_usernames()).select_related("unit").prefetch_related("groups")
        for user in sorted(users, key=lambda u: demo_usernames().index(u.username)):
            role_names = "、".join(str(labels[group.name]) for group in user.groups.all() if group.name in labels)
            self.stdout.write(f"  {user.username:<12} {user.display_name}（{user.title}，{user.unit}）  角色：{role_names}")
        self.stdout.write("\n打开 http://127.0.0.1:8000/ 登录。")
