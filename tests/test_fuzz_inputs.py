"""No input answers 500: every URL of the project's own pages, fuzzed with hypothesis.

Each POST form is sent valid data in which any field may be replaced by a hostile value (out-of-range
dates and periods, integers past 64 bits, invalid UTF-8, Unicode digits, formula and Excel-escape
text, ids of other units, lists where one value is expected, unknown fields), with its files drawn
from images, junk, huge-pixel headers and active PDFs; each GET page gets hostile query parameters
and object ids; the walk JSON API gets hostile JSON (lone surrogates, 10**30, year 1 and 9999 times,
wrong types) at every level. The form fields come from the form classes themselves, so a field
added to a form is fuzzed without a change here.

After every request: the status is below 500, and when the request was refused (4xx, or an error
message and no success message, or the form shown again with its errors) or only read something
(GET), the row count of every table of the project is what it was before. The REST API (api:*) is
fuzzed by schemathesis in tests/test_api_schema.py from its schema; SCHEMATHESIS_NAMES counts those
names as covered and is checked against the schema's operations. A URL name or item action without an entry here fails
`test_every_url_and_item_action_is_fuzzed`, as in tests/test_access_all_urls.py.

Example counts are modest so that the file runs in well under a minute; FIGURES below records what
ran, for the README.
"""

import datetime
import functools
import io
import json
import os
import re
import zipfile
from unittest import mock
from urllib.parse import urlencode

from django import forms
from django.apps import apps
from django.contrib.messages import constants, get_messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from ledgers import imports, services
from ledgers.imports import activation
from ledgers.models import (
    Attachment,
    ImportBatch,
    LedgerExport,
    Notification,
    Problem,
    Report,
    RectificationItem,
    Role,
    SavedFilter,
)
from ledgers.reports import circulars
from ledgers.roles import grant
from ledgers.views.items import ACTIONS
from tests import importfiles
from tests.test_access_all_urls import project_url_names
from tests.test_uploads import ACTIVE_PDFS, jpeg_with_metadata, png_header
from tests.test_walk_submission import valid_payload
from tests.world import PASSWORD, build_world, make_item, make_problem, make_walk

FORM_EXAMPLES = 15
PAGE_EXAMPLES = 8
WALK_EXAMPLES = 60
FIGURES = {}  # endpoint -> examples run; printed at the end of the class

HOSTILE_TEXT = [
    "", " ", "0", "-1", "1.5", "1e400", "NaN", str(10**30), str(2**31), str(2**63), "-" + str(2**63), "9" * 5000,
    "²", "١٢٣", "２０２２", "0001-01-01", "9999-12-31", "2026-02-30", "1999-12-31", "2101-01-01", "0001-01",
    "9999-12", "9999-W52", "0001-W01", "2022-W53", "2022-W00", "2022-13", "+999-01", "20222-01",
    "0001-01-01T00:00", "9999-12-31T23:59", "=cmd|' /C calc'!A0", "_x003D_1+1", "<script>alert(1)</script>",
    "\x00", "a\x00b", "\x01\x1f\x7f", "\ufffe", "\ud800", "\udfff", "é\ud83d", "‮", "a" * 70_000,
    "true", "null", "[]", "{}", "../../etc/passwd", "%00", "%", "&", "=", "?page=2", " 1 ", "1,2",
]
# Characters a browser can really send; "\ud800" and friends are sent as the invalid UTF-8 they become.
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), texts, st.integers().map(str),
                         st.dates(min_value=datetime.date(1, 1, 1)).map(datetime.date.isoformat))


def hostile_files(name):
    """Lists of fresh uploads (a file object is read to its end once sent)."""
    choices = [
        [], [(name, b"junk")], [("照片.jpg", jpeg_with_metadata())], [("big.png", png_header(8000, 7000))],
        [(f"{n}.png", png_header(7000, 7000)) for n in range(4)], [("page.html", ACTIVE_PDFS["OpenAction"])],
        [("a.pdf", b"%PDF-1.4\n")], [(".png", b"")], [("a" * 300 + ".jpg", jpeg_with_metadata())],
    ]
    return st.sampled_from(choices).map(lambda files: [SimpleUploadedFile(n, content) for n, content in files])


# ---------------------------------------------------------------------------------------------
# What a valid submission of a form field looks like, from the field's own class
# ---------------------------------------------------------------------------------------------


def valid_value(field):
    if isinstance(field, forms.ModelChoiceField):
        first = field.queryset.order_by("pk").first()
        return str(first.pk) if first else ""
    if isinstance(field, forms.ChoiceField):
        values = [str(value) for value, _label in field.choices if value not in ("", None)]
        return values[0] if values else ""
    if isinstance(field, forms.DateField):
        return (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    if isinstance(field, forms.IntegerField):
        return "" if not field.required else "1"
    if isinstance(field, forms.FileField):
        return None
    return "已核实的情况说明"


def form_fields(form):
    """{posted name: field} of a form instance (its prefix applied)."""
    return {form.add_prefix(name): field for name, field in form.fields.items()}


# The values that broke something once, by the kind of input; drawn often, so that even a few
# examples try each field with them.
EDGES = {
    "date": ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01", "2026-02-30"],
    "int": [str(10**30), str(2**63), "-1", "²", "9" * 5000, "1\x00"],
    "period": ["9999-W52", "0001-W01", "0001-01", "9999-12", "2022-W53"],
    "text": ["\x00", "a" * 70_000, "_x003D_1+1", "=1+1", "\ud800"],
}
PERIOD_NAMES = ("week", "month")
DATE_NAMES = ("deadline", "new_deadline", "deadline_from", "deadline_to")
INT_NAMES = ("page", "version", "pk", "id", "items", "campaign", "unit", "owner", "lead_unit", "scope",
             "service_item", "subcategory")


def kind_of(name, value=""):
    bare = name.split("-", 1)[-1]
    if bare in PERIOD_NAMES:
        return "period"
    if bare in DATE_NAMES:
        return "date"
    if bare in INT_NAMES or str(value).isdecimal():
        return "int"
    return "text"


def hostile_for(name, value=""):
    edges = st.sampled_from(EDGES[kind_of(name, value)])
    return st.one_of(edges, edges, hostile_text)


@st.composite
def fuzzed(draw, base, files=None):
    """The base data with one to three fields replaced, dropped or repeated (the others valid, so
    that the request gets past the first check), plus maybe an unknown field."""
    data = {name: [value] for name, value in base.items()}
    names = draw(st.permutations(sorted(base)))[:draw(st.integers(1, 3))] if base else []
    for name in names:
        choice = draw(st.sampled_from(["hostile", "hostile", "hostile", "hostile", "drop", "many"]))
        if choice == "hostile":
            data[name] = [draw(hostile_for(name, base[name]))]
        elif choice == "drop":
            del data[name]
        else:
            data[name] = draw(st.lists(hostile_for(name, base[name]), min_size=2, max_size=4))
    if draw(st.booleans()):
        data[draw(st.sampled_from(["csrfmiddlewaretoken", "next", "version", "pk", "id", "extra"]))] = [
            draw(hostile_text)]
    for name in files or ():
        data[name] = draw(hostile_files(name))
    return data


# ---------------------------------------------------------------------------------------------
# The world the fuzzing runs in
# ---------------------------------------------------------------------------------------------


class FuzzTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = cls.w = build_world()
        grant(w.erin, Role.ADMIN)
        today = timezone.localdate()
        walk = make_walk(w)
        problem = make_problem(w, walk=walk)
        open_item = make_item(w, problem=problem)
        closure_item = make_item(w, problem=problem)
        services.request_closure(w.carol, closure_item.pk, evidence="已整改到位")
        extension_item = make_item(w, problem=problem)
        services.request_extension(w.carol, extension_item.pk, new_deadline=today + datetime.timedelta(days=60),
                                   reason="系统改造需要时间")
        closed_item = make_item(w, problem=problem)
        services.request_closure(w.carol, closed_item.pk, evidence="已整改到位")
        services.approve_closure(w.bob, closed_item.pk)
        foreign = make_item(w, problem=make_problem(w, unit=w.K3), owner=w.frank, lead_unit=w.K3)
        photo = Attachment.objects.create(unit=w.K1, walk=walk, problem=problem, original_name="现场.jpg",
                                          content_type="image/jpeg", size=3, uploaded_by=w.alice, file="x.jpg")
        note = Notification.objects.create(recipient=w.bob, item=open_item, message="整改措施已分配", url="/")
        saved = SavedFilter.objects.create(user=w.bob, name="红牌", query="card=red")
        report = Report.objects.create(kind=Report.Kind.MONTHLY, period="2026-10", scope=w.C1,
                                       period_start=datetime.date(2026, 10, 1), period_end=datetime.date(2026, 10, 31))
        export = LedgerExport.objects.create(requested_by=w.bob, status=LedgerExport.Status.DONE, rows=1)
        cls.o = dict(walk=walk, open=open_item, closure=closure_item, extension=extension_item, closed=closed_item,
                     foreign=foreign, photo=photo, note=note, saved=saved, report=report, export=export)
        cls.tables = [model._meta.db_table for model in apps.get_app_config("ledgers").get_models()]
        cls.tables.append(apps.get_model("ledgers", "User")._meta.db_table)
        cls.tables = sorted(set(cls.tables))

    def counts(self):
        """Rows of every table of the project, in one query."""
        columns = ", ".join(f'(SELECT COUNT(*) FROM "{table}")' for table in self.tables)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns}")
            return dict(zip(self.tables, cursor.fetchone()))

    def send(self, label, user, method, url, data=None, *, json_body=None):
        FIGURES[label] = FIGURES.get(label, 0) + 1
        if user is not None:
            self.client.force_login(user)
        before = self.counts()
        if method == "get":
            response = self.client.get(url + "?" + urlencode(data or {}, doseq=True, errors="surrogatepass"))
        elif json_body is not None:
            response = self.client.post(url, json_body, content_type="application/json")
        elif any(isinstance(value, SimpleUploadedFile) for values in (data or {}).values() for value in values):
            clean = {name: [v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v
                            for v in values] for name, values in data.items()}
            response = self.client.post(url, clean)
        else:
            body = urlencode(data or {}, doseq=True, errors="surrogatepass")
            response = self.client.post(url, body, content_type="application/x-www-form-urlencoded")
        self.assertLess(response.status_code, 500, f"{method.upper()} {url} {data!r:.300}")
        if method == "get" or self.refused(response):
            self.assertEqual(self.counts(), before, f"refused {method.upper()} {url} changed rows: {data!r:.300}")
        return response

    @staticmethod
    def refused(response):
        if response.status_code >= 400 or FuzzTestCase.shown_with_form_errors(response):
            return True
        levels = {message.level for message in get_messages(response.wsgi_request)}
        return constants.ERROR in levels and constants.SUCCESS not in levels


    @staticmethod
    def shown_with_form_errors(response):
        """A form page answered again with its bound form's errors: how a form page refuses."""
        contexts = response.context if isinstance(response.context, list) else [response.context]
        return any(isinstance(value, forms.BaseForm) and value.is_bound and value.errors
                   for context in contexts if context is not None for value in context.flatten().values())


def fuzz(examples):
    return hypothesis_settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------------------------
# POST forms
# ---------------------------------------------------------------------------------------------

# item action -> the item (in the state the action needs) it is tried on
ITEM_FOR_ACTION = {
    "progress": "open", "extension": "open", "closure": "open", "approve": "closure", "return": "closure",
    "decide-extension": "extension", "reassign": "open", "lead-unit": "open", "deadline": "open",
    "reopen": "closed",
}


class ItemActionFuzzTests(FuzzTestCase):
    def item_action(self, data, action):
        who, form_class, needs_actor, _run, _message = ACTIONS[action]
        user = self.w.carol if who == "owner" else self.w.bob
        item = self.o[data.draw(st.sampled_from([ITEM_FOR_ACTION[action]] * 4 + ["foreign", "closed"]))]
        item = RectificationItem.objects.get(pk=item.pk)
        form = form_class(prefix=action, **({"actor": user} if needs_actor else {}))
        fields = form_fields(form)
        base = {name: valid_value(field) for name, field in fields.items()
                if not isinstance(field, forms.FileField)}
        base[form.add_prefix("version")] = str(item.version)
        files = [name for name, field in fields.items() if isinstance(field, forms.FileField)]
        pk = data.draw(st.sampled_from([item.pk] * 6 + [0, 10**30]))
        self.send(f"item_action:{action}", user, "post", reverse("item_action", args=[pk, action]),
                  data.draw(fuzzed(base, files)))


def _item_action_test(action):
    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test(self, data):
        self.item_action(data, action)

    test.__name__ = f"test_item_action_{action.replace('-', '_')}"
    return test


for _action in ACTIONS:
    setattr(ItemActionFuzzTests, f"test_item_action_{_action.replace('-', '_')}", _item_action_test(_action))


class FormFuzzTests(FuzzTestCase):
    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_login(self, data):
        self.client.logout()
        base = {"username": "alice", "password": PASSWORD}
        self.send("login", None, "post", reverse("login"), data.draw(fuzzed(base)))

    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_logout(self, data):
        self.send("logout", self.w.bob, "post", reverse("logout"), data.draw(fuzzed({"next": "/"})))

    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_notifications_read(self, data):
        self.send("notifications_read", self.w.bob, "post", reverse("notifications_read"), data.draw(fuzzed({})))

    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_walk_keepalive(self, data):
        self.send("walk_keepalive", self.w.alice, "post", reverse("walk_keepalive"), data.draw(fuzzed({})))

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_ledger_bulk(self, data):
        from ledgers.forms import BulkForm

        fields = form_fields(BulkForm(actor=self.w.bob))
        base = {name: valid_value(field) for name, field in fields.items()}
        base.update(items=str(self.o["open"].pk), query="status=open")
        drawn = data.draw(fuzzed(base))
        if data.draw(st.booleans()):
            drawn["items"] = [str(pk) for pk in data.draw(st.lists(st.sampled_from(
                [self.o["open"].pk, self.o["closure"].pk, self.o["foreign"].pk, 0, 10**30]), max_size=5))]
        self.send("ledger_bulk", self.w.bob, "post", reverse("ledger_bulk"), drawn)

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_saved_filter_save(self, data):
        base = {"name": "本周到期", "query": "status=open&deadline_to=2026-12-31"}
        self.send("saved_filter_save", self.w.bob, "post", reverse("saved_filter_save"), data.draw(fuzzed(base)))

    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_saved_filter_delete(self, data):
        pk = data.draw(st.sampled_from([self.o["saved"].pk, 0, 10**30]))
        user = data.draw(st.sampled_from([self.w.bob, self.w.dave]))
        self.send("saved_filter_delete", user, "post", reverse("saved_filter_delete", args=[pk]), data.draw(fuzzed({})))

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_report_request(self, data):
        base = {"kind": data.draw(st.sampled_from(["monthly", "weekly"])), "month": "2026-10", "week": "2026-W40",
                "scope": str(self.w.P.pk)}
        self.send("report_request", self.w.erin, "post", reverse("report_request"), data.draw(fuzzed(base)))


# ---------------------------------------------------------------------------------------------
# GET pages: query parameters and object ids
# ---------------------------------------------------------------------------------------------

LEDGER_PARAMS = ["campaign", "unit", "category", "subcategory", "source", "status", "owner", "lead_unit",
                 "service_item", "deadline_from", "deadline_to", "card", "q", "sort", "page"]


class PageFuzzTests(FuzzTestCase):
    def get(self, data, name, params, args=(), user=None):
        query = {}
        for param in params:
            if data.draw(st.booleans()):
                query[param] = data.draw(st.lists(hostile_for(param), min_size=1, max_size=2))
        self.send(name, user or self.w.bob, "get", reverse(name, args=args), query)

    def object_pk(self, data, key):
        return data.draw(st.sampled_from([self.o[key].pk, self.o[key].pk, 0, 10**30]))


def _page_test(name, params, key=None, user="bob"):
    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test(self, data):
        args = [self.object_pk(data, key)] if key else []
        self.get(data, name, params, args, getattr(self.w, user))

    return test


PAGES = {
    # url name: (query parameters, object of the URL, user)
    "home": ([], None, "bob"),
    "notifications": (["page"], None, "bob"),
    "notification_open": ([], "note", "bob"),
    "attachment": ([], "photo", "bob"),
    "ledger": (LEDGER_PARAMS, None, "bob"),
    "ledger_export": (LEDGER_PARAMS, None, "bob"),
    "ledger_exports": ([], None, "bob"),
    "ledger_export_download": ([], "export", "bob"),
    "item_detail": ([], "open", "bob"),
    "walk_new": ([], None, "alice"),
    "walk_service_items": (["q", "campaign"], None, "alice"),
    "walk_mine": (["page"], None, "alice"),
    "walk_detail": ([], "walk", "alice"),
    "walk_sw": ([], None, "alice"),
    "reports": (["page"], None, "erin"),
    "report_detail": ([], "report", "erin"),
    "report_download": ([], "report", "erin"),
    "weekly_summary": (["week", "unit"], None, "erin"),
    "dashboard": (["unit"], None, "erin"),
}
for _name, (_params, _key, _user) in PAGES.items():
    setattr(PageFuzzTests, f"test_{_name}", _page_test(_name, _params, _key, _user))


# ---------------------------------------------------------------------------------------------
# The walk JSON API
# ---------------------------------------------------------------------------------------------

HOSTILE_JSON = [
    None, True, False, 0, -1, 1.5, 10**30, -(10**30), 2**63, float("inf"), "", "\ud800", "a\udfffb", "\x00",
    "0001-01-01", "0001-01-01T00:00", "9999-12-31T23:59", "2026-02-30T10:00", "1999-12-31T08:00", "2101-01-01",
    "9999-12-31", "²", "１２", "9" * 5000, "a" * 20_000, [], {}, [None], {"a": 1}, "=1+1", "_x003D_",
]
hostile_json = st.one_of(st.sampled_from(HOSTILE_JSON), texts, st.integers(), hostile_text)


JSON_EDGES = ["\ud800", 10**30, "0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01", "9999-12-31", "²", None, []]
hostile_json_value = st.one_of(st.sampled_from(JSON_EDGES), st.sampled_from(JSON_EDGES), hostile_json)
JSON_MOMENTS = st.sampled_from(["0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01", "2101-01-01", "1999-12-31"])


def hostile_json_for(key):
    if key in ("started_at", "ended_at", "deadline"):
        return st.one_of(JSON_MOMENTS, JSON_MOMENTS, hostile_json_value)
    return hostile_json_value


@st.composite
def fuzzed_json(draw, base):
    """The valid payload with one to three values replaced or removed, at the top or inside a
    problem, plus maybe a hostile extra key or problem row."""
    payload = json.loads(json.dumps(base))
    paths = [(payload, key) for key in payload] + [(row, key) for row in payload["problems"] for key in row]
    chosen = draw(st.permutations(range(len(paths))))[:draw(st.integers(1, 3))]
    for index in chosen:
        holder, key = paths[index]
        if draw(st.integers(0, 5)):
            holder[key] = draw(hostile_json_for(key))
        else:
            holder.pop(key, None)
    if draw(st.booleans()):
        payload[draw(st.sampled_from(["\ud800", "extra", "problems"]))] = draw(hostile_json_value)
    if isinstance(payload.get("problems"), list) and draw(st.booleans()):
        payload["problems"].append(draw(hostile_json_value))
    return payload


class WalkApiFuzzTests(FuzzTestCase):
    @fuzz(WALK_EXAMPLES)
    @given(data=st.data())
    def test_walk_submit(self, data):
        payload = data.draw(fuzzed_json(valid_payload(self.w)))
        text = json.dumps(payload)  # ensure_ascii: a lone surrogate travels as the "\ud800" escape
        url = reverse("walk_submit")
        if data.draw(st.booleans()):
            self.send("walk_submit", self.w.alice, "post", url, json_body=text)
        else:
            self.send("walk_submit", self.w.alice, "post", url,
                      {"payload": [text], **{f"photo-0-{n}": files for n, files in enumerate(
                          data.draw(st.lists(hostile_files("photo.jpg"), max_size=2)))}})

    def test_the_reported_inputs_answer_with_a_message(self):
        url = reverse("walk_submit")
        self.client.force_login(self.w.alice)
        for field, value in (("started_at", "0001-01-01T00:00"), ("started_at", "9999-12-31T23:59"),
                             ("notes", "\ud800"), ("campaign", 10**30)):
            with self.subTest(field=field, value=value):
                before = self.counts()
                response = self.client.post(url, json.dumps(valid_payload(self.w, **{field: value})),
                                            content_type="application/json")
                self.assertEqual(response.status_code, 400)
                self.assertTrue(response.json()["message"])
                self.assertEqual(self.counts(), before)


class ReportedInputsTests(FuzzTestCase):
    """The inputs of issue 9, each answered with a Chinese message and nothing written."""

    def test_periods_outside_the_window_on_the_report_request_and_the_weekly_page(self):
        self.client.force_login(self.w.erin)
        for kind, field, value in (("weekly", "week", "9999-W52"), ("weekly", "week", "0001-W01"),
                                   ("monthly", "month", "0001-01"), ("monthly", "month", "9999-12")):
            with self.subTest(value=value):
                before = self.counts()
                response = self.client.post(reverse("report_request"), {"kind": kind, field: value,
                                                                        "scope": self.w.P.pk})
                self.assertContains(response, "日期须在 2000 年至 2100 年之间", status_code=400)
                self.assertEqual(self.counts(), before)
                if kind == "weekly":
                    page = self.client.get(reverse("weekly_summary"), {"week": value})
                    self.assertContains(page, "日期须在 2000 年至 2100 年之间", status_code=400)

    def test_a_version_past_the_integer_columns(self):
        before = self.counts()
        self.client.force_login(self.w.carol)
        response = self.client.post(reverse("item_action", args=[self.o["open"].pk, "progress"]),
                                    {"progress-version": str(10**30), "progress-note": "进展"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.counts(), before)

    def test_deadlines_outside_the_window_are_refused_everywhere(self):
        item = self.o["open"]
        self.client.force_login(self.w.bob)
        for value in ("9999-12-31", "1999-12-31", "0001-01-01"):
            with self.subTest(value=value):
                response = self.client.post(reverse("item_action", args=[item.pk, "deadline"]),
                                            {"deadline-version": item.version, "deadline-deadline": value})
                self.assertContains(response, "日期须在 2000 年至 2100 年之间", status_code=400)
                payload = valid_payload(self.w)
                payload["problems"][1]["deadline"] = value
                walk = Client()
                walk.force_login(self.w.alice)
                answer = walk.post(reverse("walk_submit"), json.dumps(payload), content_type="application/json")
                self.assertIn("2000 年至 2100 年", answer.json()["errors"]["problems.1.deadline"])
        self.assertEqual(RectificationItem.objects.get(pk=item.pk).deadline, item.deadline)
        self.assertEqual(RectificationItem.objects.count(), 5)

    def test_the_ledger_ignores_a_date_filter_outside_the_window_with_a_notice(self):
        self.client.force_login(self.w.bob)
        response = self.client.get(reverse("ledger"), {"deadline_to": "9999-12-31"})
        self.assertContains(response, "筛选条件“时限止”的值“9999-12-31”已忽略：日期须在 2000 年至 2100 年之间")
        self.assertContains(response, "共 4 条")  # the filter was dropped: all four of bob's items

    def test_the_model_fields_refuse_it_too(self):
        # What reaches the admin's forms (ModelForm validation runs the model field validators).
        item = RectificationItem.objects.get(pk=self.o["open"].pk)
        item.deadline = datetime.date(9999, 12, 31)
        with self.assertRaises(ValidationError) as refused:
            item.full_clean()
        self.assertIn("日期须在 2000 年至 2100 年之间", str(refused.exception.message_dict["deadline"]))


# ---------------------------------------------------------------------------------------------
# Imports (ledgers/views/imports.py): hostile workbooks, mappings, batches of others
# ---------------------------------------------------------------------------------------------


def _zip_without_a_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "不是表格")
    return buffer.getvalue()


@functools.cache
def ledger_workbook_bytes():
    path = importfiles.ledger_workbook()
    with open(path, "rb") as handle:
        content = handle.read()
    os.remove(path)
    return content


def hostile_workbooks():
    """One fresh upload of a file an import must refuse with a message (or read, when it is one)."""
    real = ledger_workbook_bytes()
    choices = [
        ("台账.xlsx", b""), ("台账.xlsx", bytes(range(256)) * 8), ("a" * 300 + ".xlsx", real),
        ("台账.docx", real), ("台账.xlsx", _zip_without_a_workbook()), ("台账.xlsm", _zip_without_a_workbook()),
        ("台账.csv", "序号,问题描述,整改措施\n1,窗口排队,增设窗口\n".encode("gbk")), ("台账.csv", b"\x00" * 64),
        ("台账.csv", "问题描述\x00,整改措施\n\x00,\x00\n".encode()), ("台账.csv", b"\xff\xfe\x00\xd8"),
        ("台账.xlsx", real[: len(real) // 2]), ("台账.xlsx", real), ("台账.xlsx", real), (".csv", b"a,b\n"),
        ("台\x00账.xlsx", real), ("台账.csv.exe", b"a,b\n"), ("台账.XLSX", real),
    ]
    return st.sampled_from(choices).map(lambda chosen: [SimpleUploadedFile(*chosen)])


def valid_or_fuzzed(base):
    """Where the valid request is rare among fuzzed ones, send it too: its path is fuzzed as well."""
    return st.one_of(st.just({name: [value] for name, value in base.items()}), fuzzed(base))


class ImportFuzzTests(FuzzTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        mapping = cls.batch(ImportBatch.Status.MAPPING)
        _layouts, mapping.mapping = imports.inspect(imports.job_for(mapping))
        mapping.save(update_fields=["mapping"])
        previewed = cls.batch(ImportBatch.Status.PREVIEWED, mapping=mapping.mapping,
                              summary={"created": 4, "updated": 0, "errors": 0})
        people = cls.batch(ImportBatch.Status.DONE, kind=ImportBatch.Kind.USERS, unit=w.P, campaign=None)
        code = activation.issue([w.alice], people)[0]
        foreign = cls.batch(ImportBatch.Status.MAPPING, created_by=w.bob, mapping=mapping.mapping)
        cls.o.update(mapping=mapping, previewed=previewed, people=people, foreign_batch=foreign)
        cls.code = activation._code(code.salt)

    @classmethod
    def batch(cls, status, **fields):
        w = cls.w
        values = dict(kind=ImportBatch.Kind.LEDGER, created_by=w.erin, unit=w.K1, campaign=w.campaign,
                      original_name="台账.xlsx", status=status)
        batch = ImportBatch(**{**values, **fields})
        batch.file.save("台账.xlsx", ContentFile(ledger_workbook_bytes()), save=False)
        batch.save()
        return batch

    def batch_pk(self, data, *keys):
        return data.draw(st.sampled_from([self.o[key].pk for key in keys] * 2 + [self.o["foreign_batch"].pk, 0,
                                                                                   10**30]))

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_import_new(self, data):
        from ledgers.views.imports import UploadForm

        kind = data.draw(st.sampled_from(["ledger"] * 4 + ["units", "users", "other"]))
        user = data.draw(st.sampled_from([self.w.erin] * 4 + [self.w.bob]))
        form_kind = kind if kind in ImportBatch.Kind.values else "ledger"
        base = {name: valid_value(field) for name, field in form_fields(UploadForm(kind=form_kind, user=user)).items()
                if not isinstance(field, forms.FileField)}
        drawn = data.draw(valid_or_fuzzed(base))  # the file is the point: valid fields let it be read
        drawn["file"] = data.draw(hostile_workbooks())
        self.send("import_new", user, "post", reverse("import_new", args=[kind]), drawn)

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_import_mapping(self, data):
        batch = self.o["mapping"]
        base = {f"col-{index}": offered for index, offered in enumerate(batch.mapping.values())}
        base.update(default_category=Problem.Category.values[0], default_owner="carol")
        pk = self.batch_pk(data, "mapping", "previewed")
        self.send("import_mapping", self.w.erin, "post", reverse("import_mapping", args=[pk]),
                  data.draw(fuzzed(base)))

    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_import_confirm(self, data):
        pk = self.batch_pk(data, "previewed", "mapping")
        self.send("import_confirm", self.w.erin, "post", reverse("import_confirm", args=[pk]), data.draw(fuzzed({})))

    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_import_credentials(self, data):
        pk = self.batch_pk(data, "people", "previewed")
        self.send("import_credentials", self.w.erin, "post", reverse("import_credentials", args=[pk]),
                  data.draw(fuzzed({})))

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_activate(self, data):
        self.client.logout()
        base = {"username": "alice", "code": self.code, "new_password1": "走流程-Strong-2026",
                "new_password2": "走流程-Strong-2026"}
        self.send("activate", None, "post", reverse("activate"), data.draw(valid_or_fuzzed(base)))

    def import_page(self, data, name):
        if name == "imports":
            args = []
        elif name == "import_template":
            args = [data.draw(st.sampled_from(["ledger", "units", "users", "other"]))]
        else:
            args = [self.batch_pk(data, "mapping", "previewed", "people")]
        user = data.draw(st.sampled_from([self.w.erin, self.w.erin, self.w.bob]))
        query = {"page": [data.draw(hostile_text)]} if data.draw(st.booleans()) else {}
        self.send(name, user, "get", reverse(name, args=args), query)


def _named_page_test(method, name):
    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test(self, data):
        getattr(self, method)(data, name)

    return test


IMPORT_PAGES = ["imports", "import_template", "import_mapping", "import_status", "import_status_json"]
for _name in IMPORT_PAGES:
    setattr(ImportFuzzTests, f"test_{_name}_page", _named_page_test("import_page", _name))


# ---------------------------------------------------------------------------------------------
# The circular's document (ledgers/views/circulars.py)
# ---------------------------------------------------------------------------------------------


class CircularFuzzTests(FuzzTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        circulars.issue(cls.o["report"], cls.w.erin)

    def report_pk(self, data):
        return data.draw(st.sampled_from([self.o["report"].pk] * 4 + [0, 10**30]))

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_report_circular(self, data):
        from ledgers.views.circulars import DraftForm

        base = {name: valid_value(field) for name, field in form_fields(DraftForm()).items()}
        base["serial"] = "12"
        user = data.draw(st.sampled_from([self.w.erin, self.w.erin, self.w.bob]))
        self.send("report_circular", user, "post", reverse("report_circular", args=[self.report_pk(data)]),
                  data.draw(fuzzed(base)))

    @fuzz(FORM_EXAMPLES)
    @given(data=st.data())
    def test_report_circular_settings(self, data):
        from ledgers.views.circulars import SettingsForm

        base = {name: valid_value(field) for name, field in form_fields(SettingsForm()).items()}
        self.send("report_circular_settings", self.w.erin, "post",
                  reverse("report_circular_settings", args=[self.report_pk(data)]), data.draw(fuzzed(base)))

    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_report_circular_issue(self, data):
        user = data.draw(st.sampled_from([self.w.erin, self.w.bob]))
        self.send("report_circular_issue", user, "post",
                  reverse("report_circular_issue", args=[self.report_pk(data)]), data.draw(fuzzed({})))

    def test_a_report_or_version_past_the_integer_columns_is_not_found(self):
        self.client.force_login(self.w.erin)
        for pk, version in ((10**30, 1), (self.o["report"].pk, 10**30)):
            with self.subTest(pk=pk, version=version):
                url = reverse("report_issued_download", kwargs={"pk": pk, "version": version, "extension": "docx"})
                self.assertEqual(self.client.get(url).status_code, 404)
        url = reverse("report_issued_download", kwargs={"pk": self.o["report"].pk, "version": 1, "extension": "docx"})
        self.assertEqual(self.client.get(url).status_code, 200)

    # LibreOffice takes seconds per document; its conversion is tested in tests/test_reports_circular_views.py,
    # here only what the views do with hostile ids, versions and extensions.
    def circular_page(self, data, name):
        kwargs = {"pk": self.report_pk(data)}
        if name != "report_circular":
            kwargs["extension"] = data.draw(st.sampled_from(["docx", "pdf", "xlsx", "html", "docx.exe", "%00"]))
        if name == "report_issued_download":
            kwargs["version"] = data.draw(st.sampled_from([1, 1, 2, 0, 10**30]))
        query = {"version": [data.draw(hostile_text)]} if data.draw(st.booleans()) else {}
        user = data.draw(st.sampled_from([self.w.erin, self.w.erin, self.w.bob]))
        with mock.patch("ledgers.reports.pdf.to_pdf", return_value=b"%PDF-1.4\n"):
            self.send(name, user, "get", reverse(name, kwargs=kwargs), query)


CIRCULAR_PAGES = ["report_circular", "report_circular_download", "report_issued_download"]
for _name in CIRCULAR_PAGES:
    setattr(CircularFuzzTests, f"test_{_name}_page", _named_page_test("circular_page", _name))


# The walk API's other faces, not described by its schema.
API_PAGES = {"api:docs": "/api/v1/docs/", "api:not_found": "/api/v1/"}


class ApiPageFuzzTests(FuzzTestCase):
    @fuzz(PAGE_EXAMPLES)
    @given(data=st.data())
    def test_api_docs_and_unknown_paths(self, data):
        cache.clear()  # the API's throttle would answer 429 after a few anonymous requests
        name = data.draw(st.sampled_from(sorted(API_PAGES)))
        tail = data.draw(st.sampled_from(["", "x", "items/%00/", "items/99999999999999999999999999/", "%0A", "..%2F"]))
        url = API_PAGES[name] + (tail if name == "api:not_found" else "")
        self.send(name, data.draw(st.sampled_from([None, self.w.bob])), "get", url,
                  {"q": [data.draw(hostile_text)]})


# API URL names whose every operation tests/test_api_schema.py drives with schemathesis from the
# schema (api:schema is the schema it reads); CoverageTests checks this set against the schema.
SCHEMATHESIS_NAMES = {"api:problems", "api:items", "api:item", "api:item_progress", "api:item_closure",
                      "api:item_approve", "api:item_return", "api:figures", "api:schema"}


class CoverageTests(TestCase):
    def test_every_url_and_item_action_is_fuzzed(self):
        fuzzed_names = {"login", "logout", "notifications_read", "walk_keepalive", "ledger_bulk", "saved_filter_save",
                        "saved_filter_delete", "report_request", "item_action", "walk_submit", *PAGES,
                        "import_new", "import_mapping", "import_confirm", "import_credentials", "activate",
                        *IMPORT_PAGES, "report_circular_settings", "report_circular_issue", *CIRCULAR_PAGES,
                        *API_PAGES, *SCHEMATHESIS_NAMES}
        self.assertEqual(project_url_names() - fuzzed_names, set(),
                         "new URL: give it a fuzz test in tests/test_fuzz_inputs.py")
        self.assertEqual(set(ACTIONS) - set(ITEM_FOR_ACTION), set(), "new item action: add it to ITEM_FOR_ACTION")

    def test_the_schemathesis_names_are_the_operations_of_the_api_schema(self):
        schema = self.client.get(reverse("api:schema"), {"format": "json"}).json()
        operations = {resolve(re.sub(r"\{[^}]+\}", "1", path)).view_name for path in schema["paths"]}
        self.assertEqual(SCHEMATHESIS_NAMES, operations | {"api:schema"},
                         "an API URL outside the schema is not fuzzed by tests/test_api_schema.py")


def teardown_module():
    if not FIGURES:
        return
    requests = sum(FIGURES.values())
    print(f"\nfuzzed {len(FIGURES)} endpoints with {requests} requests, none answered 500: "
          + ", ".join(f"{name} {n}" for name, n in sorted(FIGURES.items())))
