"""Ledger import: the shapes offices keep, a dry run that writes nothing, one transaction, and a
second import that creates nothing."""

import datetime

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from ledgers import imports
from ledgers.imports import values
from ledgers.models import ImportBatch, ImportKey, ItemEvent, Problem, RectificationItem, Role, SubCategory
from ledgers.roles import grant
from tests import importfiles
from tests.world import build_world

Status = RectificationItem.Status


class LedgerImportTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        grant(w.alice, Role.OWNER)
        grant(w.erin, Role.OFFICE)
        cls.office = w.erin
        SubCategory.objects.create(category=Problem.Category.PROCESS, name="审批时限有待压缩")

    def job(self, path, **fields):
        defaults = dict(kind=imports.Kind.LEDGER, actor=self.office, path=path, original_name="台账.xlsx",
                        unit=self.w.K1, campaign=self.w.campaign)
        defaults.update(fields)
        return imports.Job(**defaults)

    def batch(self, job):
        return ImportBatch.objects.create(kind=job.kind, created_by=job.actor, unit=job.unit, campaign=job.campaign,
                                          original_name=job.original_name, file="imports/test.xlsx")

    def test_a_cell_of_separators_only_is_a_bad_row_not_a_failed_import(self):
        rows = importfiles.ledger_rows()
        rows[0][5] = "、"  # 牵头单位
        rows[1][7] = "，"  # 责任人
        plan = imports.preview(self.job(importfiles.ledger_workbook(rows)))
        self.assertEqual([(e.row, e.message) for e in plan.errors],
                         [(5, "未填写责任人"), (6, "本行接续上一行的问题，而上一行有误：请先改正上一行")])
        self.assertEqual(plan.created[0].lead_unit, self.w.K1)  # as if the cell were empty: the row's unit

    def test_an_unknown_default_owner_refuses_the_preview_with_its_reason(self):
        job = self.job(importfiles.ledger_workbook(), options={"default_owner": "查无此人"})
        with self.assertRaises(imports.Refused) as refused:
            imports.preview(job)
        self.assertIn("责任人为空时由此人负责", refused.exception.message)
        self.assertIn("找不到责任人“查无此人”", refused.exception.message)

    def test_it_reads_a_merged_title_two_header_rows_and_continuation_rows(self):
        plan = imports.preview(self.job(importfiles.ledger_workbook()))
        self.assertEqual(plan.errors, [])
        self.assertEqual(len(plan.created), 4)
        self.assertEqual([s[2] for s in plan.skipped], ["合计行"])
        first, second, third, fourth = plan.created
        self.assertEqual((first.category, first.subcategory.name), ("process", "审批时限有待压缩"))
        self.assertEqual((first.status, first.closed_on, first.deadline),
                         (Status.CLOSED, datetime.date(2022, 6, 20), datetime.date(2022, 6, 30)))
        self.assertEqual([u.name for u in first.cooperating], ["赫山区"])
        self.assertEqual((second.deadline, second.status, second.owner), (datetime.date(2022, 6, 30),
                                                                          Status.IN_PROGRESS, self.w.carol))
        # The third row has no problem text: the second measure of the problem above it.
        self.assertEqual((third.description, third.key), (second.description, f"{second.key}#2"))
        self.assertEqual((third.deadline, third.status), (datetime.date(2022, 9, 30), Status.OPEN))
        self.assertEqual((fourth.kind, fourth.deadline), (RectificationItem.Kind.LONG_TERM,
                                                          datetime.date(2022, 12, 31)))
        self.assertEqual(plan.sheets[0]["header_rows"], [2, 3])
        self.assertFalse(Problem.objects.exists())  # a preview writes nothing

    def test_imported_items_carry_their_units_paths(self):
        job = self.job(importfiles.ledger_workbook())
        imports.commit(job, self.batch(job))  # bulk_create: only 0006_perf's triggers fill the paths
        items = list(RectificationItem.objects.select_related("unit", "lead_unit"))
        self.assertEqual(len(items), 4)
        self.assertEqual([(i.unit_path, i.lead_path) for i in items], [(i.unit.path, i.lead_unit.path) for i in items])
        self.assertTrue(all(i.unit_path for i in items))

    def test_it_commits_in_one_go_and_a_second_import_creates_nothing(self):
        path = importfiles.ledger_workbook()
        job = self.job(path)
        imports.commit(job, self.batch(job))
        self.assertEqual(Problem.objects.count(), 3)
        self.assertEqual(RectificationItem.objects.count(), 4)
        closed = RectificationItem.objects.get(measure="取消民族成分确认表")
        self.assertEqual((closed.status, closed.closed_at.date()), (Status.CLOSED, datetime.date(2022, 6, 20)))
        events = ItemEvent.objects.filter(action=ItemEvent.Action.CREATED)
        self.assertEqual(events.count(), 4)
        self.assertTrue(all(e.data["source"] == "导入" and e.actor == self.office for e in events))

        self.client.force_login(self.w.bob)  # the city's supervisor sees the imported item and its journal
        page = self.client.get(closed.get_absolute_url())
        self.assertContains(page, "导入：台账.xlsx，工作表“整改台账”第 4 行")

        with CaptureQueriesContext(connection) as captured:
            again = imports.preview(self.job(path))
        self.assertEqual((len(again.created), len(again.updated), len(again.errors)), (0, 0, 0))
        # Sub-categories are read once (the parser's table), not again for each item compared.
        self.assertEqual(sum('FROM "ledgers_subcategory"' in q["sql"] for q in captured.captured_queries), 1)
        job = self.job(path)
        imports.commit(job, self.batch(job))
        self.assertEqual(RectificationItem.objects.count(), 4)
        self.assertEqual(ItemEvent.objects.count(), 4)

    def test_items_imported_as_closed_count_in_their_closure_months_figures(self):
        from ledgers.reports.figures import Period, compute_figures

        job = self.job(importfiles.ledger_workbook())
        imports.commit(job, self.batch(job))
        june = compute_figures(self.w.K1, Period.month(2022, 6), today=datetime.date(2022, 7, 15))
        may = compute_figures(self.w.K1, Period.month(2022, 5), today=datetime.date(2022, 7, 15))
        self.assertEqual((june.total.closed, may.total.closed), (1, 0))
        self.assertEqual((june.total.open, june.total.red), (3, 0))
        # Open items get their cards like any other: "6月底前" is late by the end of July.
        july = compute_figures(self.w.K1, Period.month(2022, 7), today=datetime.date(2022, 8, 15))
        self.assertEqual((july.total.open, july.total.red), (3, 1))

    def test_a_changed_file_updates_the_changed_items_with_a_journal_row(self):
        job = self.job(importfiles.ledger_workbook())
        imports.commit(job, self.batch(job))
        rows = importfiles.ledger_rows()
        rows[1][8] = "2022年8月15日"
        rows[1][9] = "已完成"
        rows[1][10] = "2022/8/1"
        job = self.job(importfiles.ledger_workbook(rows))
        plan = imports.preview(job)
        self.assertEqual((len(plan.created), len(plan.updated)), (0, 1))
        self.assertEqual(set(plan.updated[0][2]), {"deadline", "status"})
        imports.commit(job, self.batch(job))
        item = RectificationItem.objects.get(measure="推行“一窗办理”")
        self.assertEqual((item.status, item.deadline, item.version), (Status.CLOSED, datetime.date(2022, 8, 15), 2))
        event = item.events.get(action=ItemEvent.Action.EDITED)
        self.assertEqual((event.from_status, event.to_status, event.data["source"]),
                         (Status.IN_PROGRESS, Status.CLOSED, "导入"))

    def test_a_bad_row_in_the_middle_leaves_the_database_untouched(self):
        rows = importfiles.ledger_rows()
        rows[1][1] = "赫山县"  # no such unit
        rows[1][8] = "明年"  # no such date either: the first reason is reported
        job = self.job(importfiles.ledger_workbook(rows))
        plan = imports.preview(job)
        self.assertEqual(len(plan.errors), 2)  # the row, and its continuation row that now has no problem
        error = plan.errors[0]
        self.assertEqual((error.sheet, error.row), ("整改台账", 5))
        self.assertIn("找不到单位“赫山县”", error.message)
        self.assertIn("赫山区", error.suggestions)
        self.assertIn("上一行有误", plan.errors[1].message)
        with self.assertRaises(imports.Refused):
            imports.commit(job, self.batch(job))
        self.assertFalse(Problem.objects.exists())
        self.assertFalse(ImportKey.objects.exists())

    def test_rows_naming_a_unit_outside_the_subtree_are_errors(self):
        rows = importfiles.ledger_rows()[:1]
        rows[0][1] = "吉首市"
        plan = imports.preview(self.job(importfiles.ledger_workbook(rows)))
        self.assertIn("不在您的管辖范围内", plan.errors[0].message)

    def test_office_staff_import_only_into_their_subtree(self):
        with self.assertRaises(imports.Refused):
            imports.preview(self.job(importfiles.ledger_workbook(), actor=self.w.bob))  # a supervisor
        grant(self.w.bob, Role.OFFICE)
        with self.assertRaises(imports.Refused):
            imports.preview(self.job(importfiles.ledger_workbook(), actor=self.w.bob, unit=self.w.K3))

    def test_a_gbk_csv_with_a_single_header_row(self):
        rows = [["编号", "责任单位", "存在问题", "类别", "整改措施", "责任人", "完成时限", "整改进展"],
                ["A-1", "赫山区", "窗口人员解释口径不一", "窗口建设问题", "统一材料清单", "陈卡", "2022/6/30", "未完成"],
                ["A-2", "赫山区行政审批服务局", "系统重复录入", "系统", "打通接口", "陈卡", 44742, "已销号"]]
        for encoding, bom in (("gbk", False), ("gb18030", False), ("utf-8", True), ("utf-8", False)):
            plan = imports.preview(self.job(importfiles.write_csv(rows, encoding, bom), original_name="台账.csv"))
            self.assertEqual((len(plan.created), plan.errors), (2, []), encoding)
            self.assertEqual(plan.created[0].unit, self.w.K1)
            self.assertEqual(plan.created[1].deadline, datetime.date(2022, 6, 30))  # serial 44742
            self.assertEqual(plan.created[1].key, "编号:A-2")

    def test_the_confirmed_mapping_is_remembered_for_the_units_next_import(self):
        rows = [["编号", "单位", "情况说明", "问题类别", "整改措施", "责任人", "整改时限"],
                ["B-1", "赫山区", "材料重复提交", "流程", "减少材料", "陈卡", "2022.7.1"]]
        path = importfiles.write_csv(rows, "utf-8")
        with self.assertRaises(imports.Refused):  # 情况说明 names no field: the problem text is missing
            imports.preview(self.job(path, original_name="x.csv"))
        job = self.job(path, original_name="x.csv", mapping={"情况说明": "description"})
        imports.remember(job)
        _layouts, offered = imports.inspect(self.job(path, original_name="x.csv"))
        self.assertEqual(offered["情况说明"], "description")
        self.assertEqual(len(imports.preview(self.job(path, original_name="x.csv")).created), 1)


class ValuesTestCase(TestCase):
    def test_dates_in_the_words_offices_write(self):
        cases = {"2022年6月30日": (2022, 6, 30), "2022.6.30": (2022, 6, 30), "2022/6/30": (2022, 6, 30),
                 "2022-06-30": (2022, 6, 30), "6月底前": (2022, 6, 30), "2月底": (2022, 2, 28),
                 "2022年9月": (2022, 9, 30), "9月15日前": (2022, 9, 15), 44742: (2022, 6, 30),
                 datetime.date(2022, 1, 2): (2022, 1, 2), 20221231: (2022, 12, 31)}
        for raw, expected in cases.items():
            self.assertEqual(values.parse_date(raw, 2022), datetime.date(*expected), raw)
        self.assertEqual(values.parse_deadline("长期坚持", 2022), values.LONG_TERM)
        for bad in ("明年", "2022年13月1日", "2022.2.30", 12):
            with self.assertRaises(values.Unreadable):
                values.parse_date(bad, 2022)

    def test_progress_words(self):
        for word in ("已完成", "已整改", "已销号"):
            self.assertEqual(values.parse_status(word), Status.CLOSED)
        self.assertEqual(values.parse_status("正在推进"), Status.IN_PROGRESS)
        self.assertEqual(values.parse_status("未完成"), Status.OPEN)
        self.assertEqual(values.parse_status(None), Status.OPEN)
        with self.assertRaises(values.Unreadable):
            values.parse_status("见附件")


def read_back(content):
    import io

    return load_workbook(io.BytesIO(content))


class MergedCellsTestCase(TestCase):
    """Merged cells everywhere: a problem's number, unit, text and category merged down over its
    three measures, and a status merged across two columns."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_each_measure_under_merged_problem_cells_is_an_item_of_that_problem(self):
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.append(["序号", "单位", "存在问题", "问题类别", "整改措施", "责任人", "整改时限", "完成情况", "备注"])
        sheet.append([1, "赫山区", "办事群众往返跑", "协调", "设立联办窗口", "陈卡", "2022年5月31日", "已完成"])
        sheet.append([None, None, None, None, "数据共享", "陈卡", "2022年7月31日", "正在推进"])
        sheet.append([None, None, None, None, "一次告知", "陈卡", "2022年8月31日", "未完成"])
        sheet.append([2, "赫山区", "自助终端故障", "窗口", "更换终端", "陈卡", "2022.6.30", "未完成"])
        for column in range(1, 5):
            sheet.merge_cells(start_row=2, start_column=column, end_row=4, end_column=column)
        sheet.merge_cells("H5:I5")
        job = imports.Job(kind="ledger", actor=self.w.erin, path=importfiles.save(workbook), original_name="x.xlsx",
                          unit=self.w.K1, campaign=self.w.campaign)
        batch = ImportBatch.objects.create(kind="ledger", created_by=self.w.erin, unit=self.w.K1,
                                           original_name="x.xlsx", file="imports/x.xlsx")
        imports.commit(job, batch)
        problem = Problem.objects.get(description="办事群众往返跑")
        self.assertEqual(sorted(problem.items.values_list("measure", flat=True)), ["一次告知", "数据共享", "设立联办窗口"])
        self.assertEqual(Problem.objects.count(), 2)
        self.assertEqual(ImportKey.objects.filter(key__startswith="序号:Sheet:1").count(), 3)
        again = imports.preview(job)
        self.assertEqual((len(again.created), len(again.updated), len(again.skipped)), (0, 0, 4))
