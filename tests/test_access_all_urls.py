"""Access control proven in bulk: every URL of the project, tried by a user of a sibling unit on
objects of another branch, answers 404 (or 403) and changes nothing. A URL added without an entry
here makes this test fail, so no new view escapes the check."""

import datetime
import json

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.test import TestCase
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from ledgers.models import (
    Attachment,
    ClosureRecord,
    ItemEvent,
    LedgerExport,
    Notification,
    Problem,
    Report,
    RectificationItem,
    Role,
    SavedFilter,
    WalkSession,
)
from ledgers.api.models import Scope
from ledgers.reports.models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular
from ledgers.roles import grant
from tests.api_helpers import token_for
from tests.world import build_world, make_item, make_problem, make_walk
from walkflow import urls as project_urls

CIRCULAR_MODELS = [CircularDraft, CircularEvent, CircularSettings, IssuedCircular]
ITEM_ACTIONS = ["progress", "extension", "closure", "approve", "return", "reassign", "deadline", "reopen"]

# URLs that name no object: what they show is a list built from visible_to(user) (tested with the
# lists themselves), or they act on objects named in the request body (tested below).
NO_OBJECT = {
    "login", "logout", "home", "notifications", "notifications_read", "ledger", "ledger_export", "ledger_bulk",
    "saved_filter_save", "ledger_exports", "walk_new", "walk_submit", "walk_service_items", "walk_mine", "walk_sw", "walk_keepalive",
    "reports",
    "report_request", "weekly_summary", "dashboard",
}
NO_OBJECT |= {"imports", "import_template", "import_new", "activate"}  # ledgers/views/imports.py

# The API's schema and docs page describe it and hold no data; not_found answers 404 to anything.
API_DOCS = {"api:schema", "api:docs", "api:not_found"}


def project_url_names(patterns=None, namespace=None):
    names = set()
    for entry in patterns if patterns is not None else project_urls.urlpatterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # the admin scopes through ScopedAdmin.get_queryset (tests/test_admin.py)
            names |= project_url_names(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}:{entry.name}" if namespace else entry.name)
    return names


class EveryUrlTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = cls.w = build_world()
        grant(w.dave, Role.OFFICE)  # dave (K2) holds every role but is a sibling of K1
        walk = make_walk(w)
        problem = make_problem(w, walk=walk)
        item = make_item(w, problem=problem)
        ItemEvent.record(item, w.carol, ItemEvent.Action.CREATED, to_status="open")
        closable = make_item(w, problem=problem, status=RectificationItem.Status.CLOSURE_REQUESTED)
        ClosureRecord.objects.create(item=closable, submitted_by=w.carol, evidence="已整改")
        closed = make_item(w, problem=problem, status=RectificationItem.Status.CLOSED)
        photo = Attachment(unit=w.K1, walk=walk, problem=problem, original_name="现场.png",
                           content_type="image/png", size=3, uploaded_by=w.alice)
        photo.file.save("p.png", ContentFile(b"png"), save=True)
        note = Notification.objects.create(recipient=w.alice, item=item, message="整改措施已分配", url="/")
        saved = SavedFilter.objects.create(user=w.alice, name="红牌", query="card=red")
        report = Report.objects.create(kind=Report.Kind.MONTHLY, period="2026-10", scope=w.K1, status="done",
                                       period_start=datetime.date(2026, 10, 1), period_end=datetime.date(2026, 10, 31))
        report.file.save("r.xlsx", ContentFile(b"xlsx"), save=True)
        from ledgers.reports.circulars import issue

        issue(report, w.alice)  # version 1 of the circular, for its download
        export = LedgerExport.objects.create(requested_by=w.bob, status=LedgerExport.Status.DONE, rows=1)
        export.file.save("e.xlsx", ContentFile(b"xlsx"), save=True)
        cls.objects = dict(walk=walk, item=item, closable=closable, closed=closed, photo=photo, note=note,
                           saved=saved, report=report, export=export)

    def setUp(self):
        self.client.force_login(self.w.dave)
        self.before = self.state()

    def state(self):
        return (
            list(RectificationItem.objects.order_by("pk").values_list("pk", "status", "owner_id", "deadline",
                                                                      "version")),
            ItemEvent.objects.count(), ClosureRecord.objects.filter(decision="pending").count(),
            Notification.objects.filter(read_at__isnull=False).count(), SavedFilter.objects.count(),
            WalkSession.objects.count(), Report.objects.count(),
            *[model.objects.count() for model in CIRCULAR_MODELS],
        )

    def object_requests(self):
        o = self.objects
        yield "attachment", "get", reverse("attachment", args=[o["photo"].pk]), {}
        yield "notification_open", "get", reverse("notification_open", args=[o["note"].pk]), {}
        yield "saved_filter_delete", "post", reverse("saved_filter_delete", args=[o["saved"].pk]), {}
        yield "walk_detail", "get", reverse("walk_detail", args=[o["walk"].pk]), {}
        yield "report_detail", "get", reverse("report_detail", args=[o["report"].pk]), {}
        yield "report_download", "get", reverse("report_download", args=[o["report"].pk]), {}
        yield "ledger_export_download", "get", reverse("ledger_export_download", args=[o["export"].pk]), {}
        report = o["report"].pk
        yield "report_circular", "get", reverse("report_circular", args=[report]), {}
        yield "report_circular", "post", reverse("report_circular", args=[report]), {"next_steps": "越权"}
        yield "report_circular_settings", "post", reverse("report_circular_settings", args=[report]), {"mark": "越权"}
        yield "report_circular_issue", "post", reverse("report_circular_issue", args=[report]), {}
        yield "report_circular_download", "get", reverse("report_circular_download", args=[report, "docx"]), {}
        yield "report_issued_download", "get", reverse("report_issued_download", args=[report, 1, "docx"]), {}
        for key in ("item", "closable", "closed"):
            yield "item_detail", "get", reverse("item_detail", args=[o[key].pk]), {}
            for action in ITEM_ACTIONS:
                data = {f"{action}-note": "越权尝试", f"{action}-reason": "越权", f"{action}-evidence": "越权",
                        f"{action}-version": o[key].version, f"{action}-deadline": "2030-01-01",
                        f"{action}-new_deadline": "2030-01-01", f"{action}-owner": self.w.dave.pk,
                        f"{action}-lead_unit": self.w.K2.pk, f"{action}-decision": "approved"}
                yield "item_action", "post", reverse("item_action", args=[o[key].pk, action]), data
        yield from self.import_requests()

    def import_requests(self):
        """Another user's import batch (ledgers/views/imports.py): only its importer opens it."""
        from ledgers.models import ImportBatch

        batch, _created = ImportBatch.objects.get_or_create(
            kind=ImportBatch.Kind.USERS, created_by=self.w.bob, unit=self.w.C1, original_name="u.xlsx",
            defaults={"file": "imports/u.xlsx", "status": ImportBatch.Status.DONE, "mapping": {"姓名": "name"}})
        for name, method in (("import_mapping", "post"), ("import_status", "get"), ("import_status_json", "get"),
                             ("import_confirm", "post"), ("import_credentials", "post")):
            yield name, method, reverse(name, args=[batch.pk]), {"col-0": "name"}

    def api_requests(self):
        """(url name, method, url, body, scope it needs) for every API endpoint."""
        o, w = self.objects, self.w
        yield "api:items", "get", "/api/v1/items/", {}, Scope.ITEMS_READ
        yield "api:figures", "get", "/api/v1/figures/", {"unit": w.K1.code, "period": "2026-10"}, Scope.FIGURES_READ
        yield "api:problems", "post", "/api/v1/problems/", {
            "source": "hotline", "external_number": "12345-X", "unit": w.K1.code, "category": "process",
            "description": "越权推送", "received_at": "2026-10-08T09:00:00+08:00",
            "item": {"lead_unit": w.K1D.code, "owner": "carol", "measure": "x", "deadline_working_days": 5}}, \
            Scope.PROBLEMS_WRITE
        for key in ("item", "closable", "closed"):
            pk = o[key].pk
            yield "api:item", "get", f"/api/v1/items/{pk}/", {}, Scope.ITEMS_READ
            yield "api:item_progress", "post", f"/api/v1/items/{pk}/progress/", {"note": "越权"}, Scope.ITEMS_WRITE
            yield "api:item_closure", "post", f"/api/v1/items/{pk}/closure-request/", {"evidence": "越权"}, \
                Scope.ITEMS_WRITE
            yield "api:item_approve", "post", f"/api/v1/items/{pk}/approve/", {"note": "越权"}, Scope.ITEMS_REVIEW
            yield "api:item_return", "post", f"/api/v1/items/{pk}/return/", {"reason": "越权"}, Scope.ITEMS_REVIEW

    def call_api(self, client, method, url, data):
        if method == "get":
            return client.get(url, data)
        return client.post(url, json.dumps(data, ensure_ascii=False), content_type="application/json")

    def test_every_url_is_covered_by_this_test(self):
        covered = NO_OBJECT | {name for name, *_rest in self.object_requests()} | API_DOCS
        covered |= {name for name, *_rest in self.api_requests()}
        self.assertEqual(project_url_names() - covered, set(),
                         "new URL: add it to tests/test_access_all_urls.py with a sibling-unit object")

    def test_a_sibling_gets_404_or_403_for_every_object_url(self):
        for name, method, url, data in self.object_requests():
            with self.subTest(name=name, url=url):
                response = getattr(self.client, method)(url, data)
                self.assertIn(response.status_code, (403, 404), f"{method.upper()} {url}")
        self.assertEqual(self.state(), self.before, "a refused request changed something")

    def test_a_sibling_units_token_sees_nothing_and_changes_nothing(self):
        cache.clear()
        _token, sibling = token_for(self.w.K2, *Scope.values)
        for name, method, url, data, _scope in self.api_requests():
            with self.subTest(name=name, url=url):
                response = self.call_api(sibling, method, url, data)
                if name == "api:items":
                    self.assertEqual(response.status_code, 200)
                    self.assertEqual(response.json()["results"], [])
                else:
                    self.assertIn(response.status_code, (400, 403, 404), f"{method.upper()} {url}")
                self.assertNotIn("取消民族成分确认表", response.content.decode())
        self.assertEqual(self.state(), self.before, "a refused request changed something")
        self.assertFalse(Problem.objects.filter(description="越权推送").exists())

    def test_a_token_without_the_scope_is_refused_by_every_endpoint(self):
        cache.clear()
        for name, method, url, data, scope in self.api_requests():
            # A token of the city above K1, which sees these objects, with every scope but the one needed.
            _token, client = token_for(self.w.C1, *[other for other in Scope.values if other != scope])
            with self.subTest(name=name, url=url):
                self.assertEqual(self.call_api(client, method, url, data).status_code, 403, f"{method.upper()} {url}")
        self.assertEqual(self.state(), self.before)
        self.assertFalse(Problem.objects.filter(description="越权推送").exists())

    def test_a_sibling_cannot_bulk_change_items_named_in_the_body(self):
        o = self.objects
        for action in ("approve", "reassign", "deadline"):
            with self.subTest(action=action):
                self.client.post(reverse("ledger_bulk"), {
                    "action": action, "items": [o["item"].pk, o["closable"].pk], "note": "越权",
                    "owner": self.w.dave.pk, "deadline": "2030-01-01"})
        self.assertEqual(self.state(), self.before)

    def test_a_sibling_cannot_file_a_walk_into_another_unit(self):
        w = self.w
        payload = {"client_uuid": "7d1f9a5e-0000-4000-8000-000000000001", "campaign": w.campaign.pk,
                   "unit": w.K1.pk, "service_item": w.birth.pk, "leader_rank": "top", "identity": "applicant",
                   "way": "on_site", "started_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
                   "problems": []}
        response = self.client.post(reverse("walk_submit"), {"payload": json.dumps(payload)})
        self.assertIn(response.status_code, (400, 403, 404))
        self.assertEqual(self.state(), self.before)

    def test_a_sibling_cannot_ask_for_a_report_of_another_unit(self):
        response = self.client.post(reverse("report_request"), {"kind": "monthly", "period": "2026-09",
                                                                "scope": self.w.K1.pk})
        self.assertIn(response.status_code, (200, 400, 403, 404))
        self.assertFalse(Report.objects.filter(period="2026-09").exists())

    def test_the_lists_show_nothing_of_the_sibling(self):
        # The control: the city above K1 does see these rows on the same pages.
        self.client.force_login(self.w.bob)
        self.assertContains(self.client.get(reverse("ledger")), "取消民族成分确认表")
        self.client.force_login(self.w.dave)
        for name in ("ledger", "walk_mine", "reports", "notifications", "home"):
            with self.subTest(name=name):
                response = self.client.get(reverse(name))
                self.assertEqual(response.status_code, 200)
                self.assertNotContains(response, "取消民族成分确认表")
                self.assertNotContains(response, "赫山区政务服务中心" if name != "home" else "整改措施已分配")
