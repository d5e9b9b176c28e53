"""Every main page speaks Chinese: no stray English words in what a user reads (django-filter's
"Any date"/"Unknown", a forgotten label, an English error page)."""

import re
from io import StringIO

from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from ledgers.models import Problem, RectificationItem, User, WalkSession

# Words that are names, not language: the product's own name and file formats users know.
ALLOWED = {"walkflow", "xlsx", "pdf", "jpg", "png", "excel", "wps", "app"}  # "APP": demo text
ALLOWED |= {"xlsm", "csv", "utf", "gbk"}  # the import pages name the formats as Excel's save dialog does
ALLOWED |= {"word", "sha"}  # the circular's page: Word files and their SHA-256
INVISIBLE = re.compile(r"<(script|style|template|noscript|code)\b.*?</\1>", re.S | re.I)  # code: hashes
TAG = re.compile(r"<[^>]+>")
ATTRIBUTES_READ = re.compile(r'(?:placeholder|title|aria-label|alt)="([^"]*)"')
WORD = re.compile(r"[A-Za-z]{3,}")


def english_words(html):
    visible = INVISIBLE.sub(" ", html)
    text = TAG.sub(" ", visible) + " " + " ".join(ATTRIBUTES_READ.findall(visible))
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    return sorted({word for word in WORD.findall(text) if word.lower() not in ALLOWED})


class ChineseUiTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("load_demo", stdout=StringIO())

    def pages(self):
        item = RectificationItem.objects.filter(status=RectificationItem.Status.CLOSURE_REQUESTED,
                                                unit__code__startswith="4331").first()
        walk = WalkSession.objects.filter(leader__username="lingdao").first()
        yield "lingdao", [reverse("home"), reverse("walk_new"), reverse("walk_mine"), walk.get_absolute_url(),
                          reverse("dashboard")]
        yield "duban", [reverse("home"), reverse("ledger"), reverse("ledger") + "?card=red&deadline_from=2026-13-45",
                        reverse("notifications"), reverse("weekly_summary"), reverse("ledger_exports")]
        yield "duban_js", [item.get_absolute_url()]
        yield "zeren", [reverse("home"), reverse("ledger")]
        yield "bangongshi", [reverse("home"), reverse("reports"), reverse("dashboard"), "/no-such-page/"]
        yield "bangongshi", self.circular_pages()

    def circular_pages(self):
        from ledgers.models import Report
        from ledgers.reports.circulars import issue
        from ledgers.reports.figures import Period

        office = User.objects.get(username="bangongshi")
        period = Period.last_complete(Report.Kind.MONTHLY, timezone.localdate())
        report = Report.objects.create(kind=Report.Kind.MONTHLY, period=period.label, period_start=period.start,
                                       period_end=period.end, scope=office.unit, status=Report.Status.DONE)
        issue(report, office)
        return [reverse("report_detail", args=[report.pk]), reverse("report_circular", args=[report.pk])]

    def test_main_pages_have_no_stray_english(self):
        for username, urls in self.pages():
            self.client.force_login(User.objects.get(username=username))
            for url in urls:
                with self.subTest(user=username, url=url):
                    response = self.client.get(url)
                    self.assertIn(response.status_code, (200, 404))
                    self.assertEqual(english_words(response.content.decode()), [])

    def test_the_sign_in_page_and_its_errors_are_chinese(self):
        response = self.client.post(reverse("login"), {"username": "duban", "password": "wrong"})
        self.assertEqual(english_words(response.content.decode()), [])
        self.assertContains(response, "请输入")

    def test_the_check_catches_english(self):
        self.assertEqual(english_words("<p>Any date</p><input placeholder='x' title=\"Unknown\">"),
                         ["Any", "Unknown", "date"])
        self.assertTrue(Problem.objects.exists())

    def test_the_admin_speaks_chinese_too(self):
        self.client.force_login(User.objects.get(username="guanli"))
        for url in (reverse("admin:index"), reverse("admin:axes_accessattempt_changelist"),
                    reverse("admin:ledgers_rectificationitem_changelist")):
            with self.subTest(url=url):
                words = english_words(self.client.get(url).content.decode())
                # "Axes" is the lock-out component's name, shown as its section title.
                self.assertEqual([w for w in words if w != "Axes"], [])
