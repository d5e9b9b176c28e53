import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ledgers.synthetic import Generator


class Command(BaseCommand):
    help = "生成合成台账数据（批量写入）。Generate a synthetic province with N problems."

    def add_arguments(self, parser):
        parser.add_argument("--problems", type=int, required=True, help="问题条数")
        parser.add_argument("--seed", type=int, default=1, help="随机种子：同一种子生成同一组单位和人员")
        parser.add_argument("--batch", type=int, default=5000, help="每批写入的问题条数")

    def handle(self, *args, problems, seed, batch, **options):
        if problems < 1:
            raise CommandError("--problems 必须是正整数")
        if batch < 1:
            raise CommandError("--batch 必须是正整数")
        # Under DEBUG Django keeps every SQL statement in memory: with bulk inserts that is gigabytes.
        settings.DEBUG = False
        started = time.monotonic()
        Generator(seed=seed, batch=batch, stdout=self.stdout).run(problems)
        self.stdout.write(self.style.SUCCESS(f"已生成 {problems} 个问题，用时 {time.monotonic() - started:.1f} 秒"))
