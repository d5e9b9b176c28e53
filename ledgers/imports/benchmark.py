"""`make bench` figures for imports: a 10,000-row ledger and a 5,000-user roster, previewed and
committed as the pages do, in a child process of their own (ledgers/bench.py) so that the peak
memory is the import's. The commits run in a transaction that is rolled back: the bench database
stays as it was, and a second run measures the same work."""

import os
import tempfile
import time

from django.db import transaction
from openpyxl import Workbook

from ..models import ImportBatch, Role, Unit, User
from . import Job, commit, preview

LEDGER_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))
ROSTER_ROWS = int(os.environ.get("BENCH_IMPORT_USERS", "5000"))
HEADER = ["编号", "单位", "问题描述", "问题类别", "整改措施", "牵头单位", "责任人", "整改时限", "完成情况", "销号时间"]
CATEGORIES = ["系统", "流程", "协调", "窗口", "审批时限有待压缩"]
DEADLINES = ["2022年6月30日", "2022.7.31", "2022/9/30", "6月底前", "长期坚持"]


class Rollback(Exception):
    pass


def _write(rows, header):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    sheet.append(["测评导入台账"])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="walkflow-bench-")
    os.close(handle)
    workbook.save(path)
    return path


def ledger_file(county, count):
    units = list(Unit.objects.filter(path__startswith=county.path).values_list("code", flat=True))
    owners = list(User.objects.filter(unit__path__startswith=county.path, groups__name=Role.OWNER.value)
                  .values_list("username", flat=True))
    rows = []
    for n in range(count):
        done = n % 3 == 0
        rows.append([f"CP-{n:06d}", units[n % len(units)], f"测评问题{n}：办事群众反映材料需重复提交，窗口解释口径不一",
                     CATEGORIES[n % len(CATEGORIES)], f"测评措施{n}：精简材料，统一口径，推行一次办", units[(n + 1) % len(units)],
                     owners[n % len(owners)], DEADLINES[n % len(DEADLINES)], "已完成" if done else "正在推进",
                     "2022/6/20" if done else None])
    return _write(rows, HEADER)


def roster_file(county, count):
    units = list(Unit.objects.filter(path__startswith=county.path).values_list("code", flat=True))
    rows = [[f"测评{n:05d}", "", f"139{n:08d}", units[n % len(units)], "督办", "科员"] for n in range(count)]
    return _write(rows, ["姓名", "用户名", "手机号", "单位", "角色", "职务"])


CPU = {}  # figure -> CPU seconds of this process: on a machine shared with other jobs, wall time
# alone mostly measures the others


def _timed(action, name):
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    CPU[name] = time.process_time() - cpu
    return time.perf_counter() - started, result


def _committed(job):
    def run():
        try:
            with transaction.atomic():
                batch = ImportBatch.objects.create(kind=job.kind, created_by=job.actor, unit=job.unit,
                                                   campaign=job.campaign, original_name="bench.xlsx",
                                                   file="imports/bench.xlsx")
                result = commit(job, batch)
                raise Rollback(result)
        except Rollback as done:
            return done.args[0]

    return run


def child(bench):
    """The figures, measured in this process."""
    county, office, admin = bench.county, bench.office, bench.supervisor
    ledger_path = ledger_file(county, LEDGER_ROWS)
    job = lambda: Job(kind=ImportBatch.Kind.LEDGER, actor=office, path=ledger_path,  # noqa: E731
                      original_name="bench.xlsx", unit=county, campaign=bench.campaign)
    preview_s, plan = _timed(lambda: preview(job()), "import_preview_cpu_s")
    assert not plan.errors, plan.errors[:3]
    import_s, _result = _timed(_committed(job()), "import_cpu_s")
    roster_path = roster_file(county, ROSTER_ROWS)
    people = lambda: Job(kind=ImportBatch.Kind.USERS, actor=admin, path=roster_path,  # noqa: E731
                         original_name="bench.xlsx", unit=admin.unit)
    users_preview_s, roster = _timed(lambda: preview(people()), "import_users_preview_cpu_s")
    assert not roster.errors, roster.errors[:3]
    users_s, _roster = _timed(_committed(people()), "import_users_cpu_s")
    os.remove(ledger_path)
    os.remove(roster_path)
    return {"import_rows": len(plan.created), "import_preview_s": preview_s, "import_s": import_s,
            "import_users": len(roster.created), "import_users_preview_s": users_preview_s,
            "import_users_s": users_s, **CPU}
