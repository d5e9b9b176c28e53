"""Office staff ask for reports and download them; every page and download is scoped."""

import datetime

import time_machine
from django.test import TestCase
from django.urls import reverse

from ledgers.models import Report
from ledgers.reports.figures import Period
from tests.test_reports_figures import build_jishou
from tests.world import PASSWORD, build_world, make_user

SH = datetime.timezone(datetime.timedelta(hours=8))
JUNE_1_9AM = datetime.datetime(2022, 6, 1, 9, 0, tzinfo=SH)


def make_report(scope, label="2022-05", status=Report.Status.DONE, **fields):
    period = Period.parse("monthly", label)
    return Report.objects.create(kind="monthly", period=label, period_start=period.start, period_end=period.end,
                                 scope=scope, status=status, **fields)


@time_machine.travel(JUNE_1_9AM, tick=False)
class ReportPagesTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        build_jishou(w)
        from ledgers.models import Role

        cls.city_office = make_user("olga", w.C1, Role.OFFICE)

    def login(self, user):
        self.client.login(username=user.username, password=PASSWORD)

    def request_report(self, **data):
        form = {"kind": "monthly", "month": "2022-05", "week": "", "scope": self.w.C2.pk}
        form.update(data)
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post(reverse("report_request"), form)

    def test_it_queues_a_report_and_offers_the_download_when_done(self):
        self.login(self.w.erin)
        response = self.request_report()
        report = Report.objects.get()
        self.assertRedirects(response, reverse("report_detail", args=[report.pk]))
        self.assertEqual((report.kind, report.period, report.scope, report.requested_by),
                         ("monthly", "2022-05", self.w.C2, self.w.erin))
        self.assertEqual(report.status, Report.Status.DONE)  # the eager worker ran it after commit
        page = self.client.get(reverse("report_detail", args=[report.pk]))
        self.assertContains(page, reverse("report_download", args=[report.pk]))
        self.assertNotContains(page, 'http-equiv="refresh"')
        download = self.client.get(reverse("report_download", args=[report.pk]))
        self.assertEqual(download.status_code, 200)
        self.assertIn("attachment", download["Content-Disposition"])
        self.assertTrue(b"".join(download.streaming_content).startswith(b"PK"))

    def test_it_keeps_one_report_when_asked_twice(self):
        self.login(self.w.erin)
        self.request_report()
        self.request_report()
        self.assertEqual(Report.objects.count(), 1)

    def test_it_shows_progress_and_refreshes_while_the_report_is_queued(self):
        report = make_report(self.w.C2, status=Report.Status.RUNNING, progress=45)
        self.login(self.w.erin)
        page = self.client.get(reverse("report_detail", args=[report.pk]))
        self.assertContains(page, 'http-equiv="refresh"')
        self.assertContains(page, '<progress max="100" value="45"')
        self.assertEqual(self.client.get(reverse("report_download", args=[report.pk])).status_code, 404)

    def test_it_shows_the_reason_of_a_failed_report_to_office_staff(self):
        report = make_report(self.w.C2, status=Report.Status.FAILED, error="生成失败（已重试，不再自动重试）：磁盘已满")
        self.login(self.w.erin)
        self.assertContains(self.client.get(reverse("reports")), "磁盘已满")
        self.assertContains(self.client.get(reverse("report_detail", args=[report.pk])), "重新生成")

    def test_it_refuses_a_download_outside_the_users_scope(self):
        report = make_report(self.w.C2)
        self.login(self.city_office)  # office staff of 益阳市, a sibling of 湘西州
        self.assertEqual(self.client.get(reverse("report_download", args=[report.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("report_detail", args=[report.pk])).status_code, 404)
        self.assertNotContains(self.client.get(reverse("reports")), "湘西州")

    def test_it_refuses_to_queue_a_report_for_a_unit_outside_the_scope(self):
        self.login(self.city_office)
        response = self.request_report(scope=self.w.C2.pk)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "请选择本单位或下级单位", status_code=400)
        self.assertFalse(Report.objects.exists())

    def test_it_answers_bad_periods_with_a_message_not_an_error(self):
        self.login(self.w.erin)
        for data in ({"month": "2022-13"}, {"month": ""}, {"kind": "weekly", "week": "2022-W99"},
                     {"month": "2099-01"}, {"kind": "yearly"}, {"scope": "abc"}):
            response = self.request_report(**data)
            self.assertEqual(response.status_code, 400, data)
        self.assertFalse(Report.objects.exists())

    def test_only_office_staff_may_ask_for_a_report(self):
        self.login(self.w.bob)  # supervisor
        self.assertEqual(self.request_report(scope=self.w.C1.pk).status_code, 403)
        self.login(self.w.carol)  # owner only
        self.assertEqual(self.client.get(reverse("reports")).status_code, 403)

    def test_supervisors_may_read_and_download_their_scope(self):
        from django.core.files.base import ContentFile

        report = make_report(self.w.C1)
        report.file.save("circular.xlsx", ContentFile(b"PK-xlsx"), save=True)
        self.login(self.w.bob)
        page = self.client.get(reverse("reports"))
        self.assertContains(page, "益阳市")
        self.assertNotContains(page, 'action="/reports/request/"')
        download = self.client.get(reverse("report_download", args=[report.pk]))
        self.assertEqual(download.status_code, 200)
        self.assertEqual(b"".join(download.streaming_content), b"PK-xlsx")

    def test_the_list_is_free_of_n_plus_1(self):
        for n in range(1, 6):
            make_report(self.w.C2, label=f"2022-0{n}", requested_by=self.w.erin)
        self.login(self.w.erin)
        self.client.get(reverse("reports"))  # the session renewed, the user's unit and roles kept
        # session, user with the unread notification count, the change stamps (the user's unit and
        # roles are kept under them), paginator count, the form's unit choices, reports with scope
        # and requester (one join): 6, however many reports
        with self.assertNumQueries(6):
            response = self.client.get(reverse("reports"))
        self.assertEqual(len(response.context["page"].object_list), 5)

    def test_it_asks_anonymous_users_to_log_in(self):
        response = self.client.get(reverse("reports"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])


@time_machine.travel(datetime.datetime(2022, 5, 23, 9, 0, tzinfo=SH), tick=False)
class WeeklyPageTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        build_jishou(cls.w)

    def test_it_shows_last_weeks_figures_of_the_users_unit(self):
        self.client.login(username="frank", password=PASSWORD)
        response = self.client.get(reverse("weekly_summary"))
        self.assertContains(response, "2022年第20周")
        self.assertContains(response, "吉首市")
        self.assertEqual(response.context["figures"].period.label, "2022-W20")

    def test_it_answers_404_for_a_unit_outside_the_scope(self):
        self.client.login(username="frank", password=PASSWORD)
        self.assertEqual(self.client.get(reverse("weekly_summary"), {"unit": self.w.K1.code}).status_code, 404)

    def test_it_answers_a_bad_week_with_a_message(self):
        self.client.login(username="bob", password=PASSWORD)
        response = self.client.get(reverse("weekly_summary"), {"week": "2022-W77"})
        self.assertContains(response, "周次格式不正确", status_code=400)


@time_machine.travel(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=SH), tick=False)
class WeeklyTabNamesItsWeekTestCase(TestCase):
    """On Wednesday 2 December the tab opens week 48 and says so; week 49 so far is one tap away."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.client.login(username="frank", password=PASSWORD)

    def test_the_tab_is_named_for_the_last_complete_week_it_opens(self):
        response = self.client.get(reverse("weekly_summary"))
        self.assertContains(response, "上周汇总")
        self.assertNotContains(response, "本周汇总")
        self.assertEqual(response.context["figures"].period.label, "2026-W48")
        self.assertContains(response, 'aria-current="page">上周（2026年第48周，已结束）', html=False)
        self.assertContains(response, "?week=2026-W49&amp;unit=433101")

    def test_this_week_so_far_counts_up_to_today(self):
        response = self.client.get(reverse("weekly_summary"), {"week": "2026-W49", "unit": "433101"})
        self.assertEqual(response.context["figures"].as_of, datetime.date(2026, 12, 2))
        self.assertContains(response, 'aria-current="page">本周至今（2026年第49周）', html=False)
        self.assertContains(response, "本周尚未结束")
