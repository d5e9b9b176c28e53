import argparse
import json
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ledgers.bench import Bench, child as run_child

STEPS = ["ledger", "admin", "export", "iie", "circular", "walk", "dashboard", "api", "cpu", "throughput"]
STEPS += ["imports"]  # ledgers/imports/benchmark.py
STEPS += ["circular_docx"]  # the circular as a document (ledgers/reports/document.py)


class Command(BaseCommand):
    help = "测量性能：台账页、Django admin、导出（对比 django-import-export）、月通报、走流程提交、统计页、吞吐量（wrk）。"

    def add_arguments(self, parser):
        parser.add_argument("--problems", type=int, default=int(os.environ.get("BENCH_PROBLEMS", "100000")))
        parser.add_argument("--runs", type=int, default=7, help="每项测量次数（取中位数）")
        parser.add_argument("--only", nargs="*", choices=STEPS, help="只测这些项")
        parser.add_argument("--child", help=argparse.SUPPRESS)

    def handle(self, *args, problems, runs, only, child=None, **options):
        if problems < 1 or runs < 1:
            raise CommandError("--problems 和 --runs 必须是正整数")
        # Measure as production runs: DEBUG would log every SQL statement and cost time and memory.
        settings.DEBUG = False
        if child:
            # One measurement in this process alone: its peak memory is its own.
            self.stdout.write(json.dumps(run_child(child, problems)))
            return
        Bench(problems, runs, self.stdout).run(only=only)
