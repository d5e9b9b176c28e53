"""The periodic report tasks: period boundaries in Asia/Shanghai, backfill, reruns, failures, mail.

Tasks run eagerly here (tests/conftest.py); enqueueing happens after commit, so every task call
is wrapped in captureOnCommitCallbacks(execute=True), which is also what proves it waits for it.
"""

import datetime
from unittest import mock

import time_machine
from django.core import mail
from django.test import TestCase

from ledgers import tasks
from ledgers.models import Report
from ledgers.reports.figures import Period
from ledgers.reports.jobs import ensure_report
from tests.test_reports_figures import build_jishou
from tests.world import build_world

SH = datetime.timezone(datetime.timedelta(hours=8))


def shanghai(*args):
    return datetime.datetime(*args, tzinfo=SH)


def done_report(w, kind, label):
    period = Period.parse(kind, label)
    return Report.objects.create(kind=kind, period=label, period_start=period.start, period_end=period.end,
                                 scope=w.P, status=Report.Status.DONE)


class MonthlyTaskTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def run_monthly(self):
        with self.captureOnCommitCallbacks(execute=True):
            tasks.monthly_circulars.delay()

    def periods(self, kind=Report.Kind.MONTHLY):
        return list(Report.objects.filter(kind=kind).order_by("period_start").values_list("period", "status"))

    def test_it_reports_may_at_half_past_midnight_on_the_first_of_june(self):
        done_report(self.w, Report.Kind.MONTHLY, "2022-04")
        # 00:30 on 1 June in Shanghai is 16:30 on 31 May in UTC: the task must see June.
        with time_machine.travel(shanghai(2022, 6, 1, 0, 30), tick=False):
            self.run_monthly()
        self.assertEqual(self.periods(), [("2022-04", "done"), ("2022-05", "done")])

    def test_it_does_not_report_may_before_may_is_over(self):
        done_report(self.w, Report.Kind.MONTHLY, "2022-04")
        with time_machine.travel(shanghai(2022, 5, 31, 23, 59), tick=False):
            self.run_monthly()
        self.assertEqual(self.periods(), [("2022-04", "done")])

    def test_it_fills_in_every_missed_month(self):
        done_report(self.w, Report.Kind.MONTHLY, "2022-03")
        # beat was down in June and July: the run of 1 August makes April to July
        with time_machine.travel(shanghai(2022, 8, 1, 8, 0), tick=False):
            self.run_monthly()
        self.assertEqual([p for p, _s in self.periods()], ["2022-03", "2022-04", "2022-05", "2022-06", "2022-07"])
        self.assertEqual({s for _p, s in self.periods()}, {"done"})
        self.assertTrue(all(report.file for report in Report.objects.exclude(period="2022-03")))

    def test_it_starts_at_the_first_campaign_month_when_nothing_was_done(self):
        with time_machine.travel(shanghai(2022, 6, 1, 8, 0), tick=False):
            self.run_monthly()
        self.assertEqual([p for p, _s in self.periods()], ["2022-03", "2022-04", "2022-05"])

    def test_it_keeps_one_report_when_run_again(self):
        with time_machine.travel(shanghai(2022, 6, 1, 8, 0), tick=False):
            self.run_monthly()
            self.run_monthly()
            report = Report.objects.get(period="2022-05")
            first_file = report.file.name
            with self.captureOnCommitCallbacks(execute=True):
                ensure_report(Report.Kind.MONTHLY, Period.parse("monthly", "2022-05"), self.w.P)
                tasks.build_report.delay(report.pk)
        self.assertEqual(Report.objects.filter(kind="monthly").count(), 3)
        report.refresh_from_db()
        self.assertEqual(report.status, Report.Status.DONE)
        self.assertNotEqual(report.file.name, first_file)
        self.assertFalse(report.file.storage.exists(first_file))

    def test_it_retries_and_then_leaves_the_report_failed_with_the_reason(self):
        done_report(self.w, Report.Kind.MONTHLY, "2022-04")
        with time_machine.travel(shanghai(2022, 6, 1, 8, 0), tick=False), \
                mock.patch("ledgers.reports.workbook.compute_figures", side_effect=RuntimeError("数据库连接中断")):
            self.run_monthly()
        report = Report.objects.get(period="2022-05")
        self.assertEqual(report.status, Report.Status.FAILED)
        self.assertEqual(report.attempts, 1 + tasks.build_report.max_retries)
        self.assertIn("数据库连接中断", report.error)
        self.assertIn("不再自动重试", report.error)
        # the next run (beat again, or the next month) tries the failed month once more
        with time_machine.travel(shanghai(2022, 6, 2, 8, 0), tick=False):
            self.run_monthly()
        report.refresh_from_db()
        self.assertEqual(report.status, Report.Status.DONE)
        self.assertEqual(report.error, "")

    def test_a_running_report_is_not_taken_twice(self):
        period = Period.parse("monthly", "2022-05")
        report, queued = ensure_report(Report.Kind.MONTHLY, period, self.w.P)
        self.assertTrue(queued)
        Report.objects.filter(pk=report.pk).update(status=Report.Status.RUNNING,
                                                   started_at=shanghai(2022, 6, 1, 8, 0))
        with time_machine.travel(shanghai(2022, 6, 1, 8, 5), tick=False):
            self.assertEqual(ensure_report(Report.Kind.MONTHLY, period, self.w.P), (report, False))
            self.assertEqual(tasks.build_report.apply(args=[report.pk]).get(), "skipped")
        # a worker that died leaves a stale RUNNING row: it may be taken again later
        with time_machine.travel(shanghai(2022, 6, 1, 9, 0), tick=False):
            self.assertTrue(ensure_report(Report.Kind.MONTHLY, period, self.w.P)[1])


class WeeklyTaskTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        build_jishou(cls.w)

    def test_it_reports_last_week_on_monday_morning(self):
        done_report(self.w, Report.Kind.WEEKLY, "2022-W19")
        with time_machine.travel(shanghai(2022, 5, 23, 0, 30), tick=False), \
                self.captureOnCommitCallbacks(execute=True):
            tasks.weekly_summaries.delay()
        report = Report.objects.get(period="2022-W20")
        self.assertEqual((report.period_start, report.period_end), (datetime.date(2022, 5, 16),
                                                                    datetime.date(2022, 5, 22)))
        self.assertEqual(report.status, Report.Status.DONE)

    def test_it_mails_each_units_leaders_and_supervisors_their_own_figures(self):
        with time_machine.travel(shanghai(2022, 5, 23, 8, 0), tick=False), \
                self.captureOnCommitCallbacks(execute=True):
            tasks.weekly_summaries.delay()
        # 8 weeks since the campaign began on 28 March are filled; only the newest is mailed
        self.assertEqual(Report.objects.filter(kind="weekly", status="done").count(), 8)
        by_recipient = {tuple(message.to): message for message in mail.outbox}
        self.assertEqual(set(by_recipient), {("alice@example.cn",), ("bob@example.cn",), ("dave@example.cn",),
                                             ("frank@example.cn",)})
        frank = by_recipient[("frank@example.cn",)]
        self.assertIn("2022年第20周", frank.subject)
        html, mimetype = frank.alternatives[0]
        self.assertEqual(mimetype, "text/html")
        self.assertIn("吉首市", html)
        name, content, attachment_type = frank.attachments[0]
        self.assertTrue(name.endswith(".xlsx"))
        self.assertTrue(content.startswith(b"PK"))
        # alice's unit is in another city: nothing of 吉首 reaches her
        self.assertNotIn("吉首", by_recipient[("alice@example.cn",)].alternatives[0][0])
