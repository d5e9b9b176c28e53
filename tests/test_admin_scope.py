"""The admin as an attack surface, tried in bulk. A city's administrator and the city's office staff
(both `is_staff`, neither a superuser) walk every model registered in the admin: they open its list,
add form and the change forms of rows inside their subtree, above it (the province) and in the
sibling city; every foreign-key and many-to-many choice list must hold only rows they may pick;
every such field is POSTed with an id from outside, every privilege field with a privilege, and
the database must not change. A model registered without an entry in ENTRIES makes the test fail,
so whatever other branches register (tokens, webhooks, imports ...) is walked too.

Most of the walk is derived from the rendered forms and the models' relations; an entry says only
where a row sits (`place`), how to make one at a unit (`make`) and which kind of access applies.
"""

import datetime
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Callable

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from ledgers.admin import ScopedAdmin
from ledgers.api.auth import issue_token
from ledgers.models import (
    ActivationCode,
    ApiToken,
    Attachment,
    CalendarOverride,
    Campaign,
    ChangeStamp,
    ClosureRecord,
    ExtensionRequest,
    ExternalTicket,
    ImportBatch,
    ImportKey,
    ImportMapping,
    ItemEvent,
    LedgerExport,
    Notification,
    Problem,
    ReminderLog,
    Report,
    Role,
    SavedFilter,
    ServiceItem,
    SubCategory,
    Unit,
    User,
    WalkSession,
    WebhookDelivery,
    WebhookEndpoint,
)
from ledgers.reports.models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular
from tests.world import build_world, make_item, make_problem, make_user, make_walk

SCOPED = "scoped"  # added and changed inside the subtree, by those with the model's permissions
READ_ONLY = "read_only"  # shown inside the subtree, never added or changed in the admin
GLOBAL = "global"  # one row for every unit: read by all with access, written by a province administrator
SUPERUSER = "superuser"  # nobody else opens it

TALLY = Counter()
FORGED_FIELDS = set()  # (model, field) pairs POSTed with an outside id


@dataclass
class Entry:
    access: str
    place: Callable = None  # row -> the unit it belongs to
    make: Callable = None  # (world, unit) -> a new row at that unit (None for global rows)
    usable_from_below: bool = False  # a county picks the province's rows (its campaign, its service items)
    private: bool = False  # only the row's own user sees it, not their administrator
    may_choose: Callable = None  # (row, actor) -> bool, instead of the place rule


def person(unit):
    return User.objects.filter(unit=unit).order_by("pk").first()


def service_item(w, unit):
    return ServiceItem.objects.get_or_create(name=f"取水许可审批（{unit.name}）", competent_unit=unit)[0]


def item(w, unit):
    who = person(unit)
    return make_item(w, problem=make_problem(w, unit=unit, created_by=who), owner=who, lead_unit=unit)


def attachment(w, unit):
    row = Attachment(unit=unit, original_name="现场.png", content_type="image/png", size=3, uploaded_by=person(unit))
    row.file.save("p.png", ContentFile(b"png"), save=True)
    return row


def token(w, unit):
    row = ApiToken(name=f"12345热线（{unit.name}）", unit=unit, scopes=["problems:write", "items:read"])
    issue_token(row, created_by=person(unit))
    return row


def endpoint(w, unit):
    return WebhookEndpoint.objects.create(name=f"督办平台（{unit.name}）", unit=unit, url="https://hook.example.cn/wf",
                                          events=["item.closed"])


def batch(w, unit):
    return ImportBatch.objects.create(kind=ImportBatch.Kind.LEDGER, original_name=f"{unit.name}台账.xlsx", unit=unit,
                                      file=f"imports/2026/11/{unit.code}.xlsx", created_by=person(unit))


def report(w, unit):
    return Report.objects.get_or_create(kind=Report.Kind.MONTHLY, period="2026-09", scope=unit, defaults={
        "period_start": datetime.date(2026, 9, 1), "period_end": datetime.date(2026, 9, 30)})[0]


def issued_circular(w, unit):
    return IssuedCircular.objects.create(
        report=report(w, unit), version=1, number=f"{unit.short_name or unit.name}〔2026〕3号", title="9月通报",
        docx=f"circulars/2026-09/{unit.code}.docx", xlsx=f"circulars/2026-09/{unit.code}.xlsx",
        docx_sha256="a" * 64, xlsx_sha256="b" * 64, figures={"problems": 3}, narrative={"title": "9月通报"},
        issued_by=person(unit))


TODAY = datetime.date(2026, 11, 2)

# One entry per model registered in the admin. A new model, say an API token owned by a user:
#   "ledgers.apitoken": Entry(SCOPED, place=lambda row: row.user.unit,
#                             make=lambda w, unit: ApiToken.objects.create(user=person(unit), name="对接")),
# READ_ONLY for rows only shown, GLOBAL for settings of the whole province, SUPERUSER for the rest.
ENTRIES = {
    "auth.group": Entry(SUPERUSER, may_choose=lambda group, actor: actor.groups.filter(pk=group.pk).exists()),
    "axes.accessattempt": Entry(SUPERUSER),
    "axes.accesslog": Entry(SUPERUSER),
    "axes.accessfailurelog": Entry(SUPERUSER),
    "ledgers.changestamp": Entry(SUPERUSER),  # the cache stamps the triggers of 0006_perf write
    "ledgers.unit": Entry(SCOPED, place=lambda unit: unit, make=lambda w, unit: unit),
    "ledgers.user": Entry(SCOPED, place=lambda user: user.unit, make=lambda w, unit: person(unit)),
    "ledgers.calendaroverride": Entry(GLOBAL, make=lambda w, unit: CalendarOverride.objects.create(
        date=datetime.date(2027, 2, 20), is_workday=True, source="国办发明电〔2026〕8号")),
    "ledgers.subcategory": Entry(GLOBAL, make=lambda w, unit: SubCategory.objects.create(
        category=Problem.Category.PROCESS, name="办理流程有待优化")),
    "ledgers.serviceitem": Entry(SCOPED, place=lambda row: row.competent_unit, make=service_item,
                                 usable_from_below=True),
    "ledgers.campaign": Entry(SCOPED, place=lambda row: row.unit, usable_from_below=True,
                              make=lambda w, unit: Campaign.objects.create(
                                  name=f"{unit.name}专项行动", unit=unit, start_date=datetime.date(2022, 4, 1))),
    "ledgers.walksession": Entry(SCOPED, place=lambda row: row.unit, make=lambda w, unit: make_walk(
        w, unit=unit, leader=person(unit), service_item=service_item(w, unit))),
    "ledgers.problem": Entry(SCOPED, place=lambda row: row.unit,
                             make=lambda w, unit: make_problem(w, unit=unit, created_by=person(unit))),
    "ledgers.rectificationitem": Entry(READ_ONLY, place=lambda row: row.unit, make=item),
    "ledgers.itemevent": Entry(READ_ONLY, place=lambda row: row.item.unit, make=lambda w, unit: ItemEvent.record(
        item(w, unit), person(unit), ItemEvent.Action.CREATED, to_status="open")),
    "ledgers.closurerecord": Entry(READ_ONLY, place=lambda row: row.item.unit,
                                   make=lambda w, unit: ClosureRecord.objects.create(
                                       item=item(w, unit), submitted_by=person(unit), evidence="已整改")),
    "ledgers.extensionrequest": Entry(READ_ONLY, place=lambda row: row.item.unit,
                                      make=lambda w, unit: ExtensionRequest.objects.create(
                                          item=item(w, unit), requested_by=person(unit), reason="需协调",
                                          old_deadline=TODAY, new_deadline=TODAY + datetime.timedelta(days=30))),
    "ledgers.attachment": Entry(READ_ONLY, place=lambda row: row.unit, make=attachment),
    "ledgers.notification": Entry(SCOPED, place=lambda row: row.recipient.unit,
                                  make=lambda w, unit: Notification.objects.create(recipient=person(unit),
                                                                                   message="整改措施已分配")),
    "ledgers.report": Entry(READ_ONLY, place=lambda row: row.scope, make=lambda w, unit: Report.objects.create(
        kind=Report.Kind.MONTHLY, period="2026-10", scope=unit, period_start=datetime.date(2026, 10, 1),
        period_end=datetime.date(2026, 10, 31))),
    "ledgers.savedfilter": Entry(SCOPED, place=lambda row: row.user.unit,
                                 make=lambda w, unit: SavedFilter.objects.create(user=person(unit), name="红牌",
                                                                                 query="card=red")),
    "ledgers.reminderlog": Entry(READ_ONLY, place=lambda row: row.item.unit,
                                 make=lambda w, unit: ReminderLog.objects.create(
                                     item=item(w, unit), kind=ReminderLog.Kind.DUE_3, day=TODAY)),
    "ledgers.ledgerexport": Entry(READ_ONLY, place=lambda row: row.requested_by.unit, private=True,
                                  make=lambda w, unit: LedgerExport.objects.create(requested_by=person(unit))),
    # ledgers/api: a token and a receiver belong to a unit, their tickets and deliveries follow them.
    "ledgers.apitoken": Entry(SCOPED, place=lambda row: row.unit, make=token),
    "ledgers.externalticket": Entry(READ_ONLY, place=lambda row: row.problem.unit,
                                    make=lambda w, unit: ExternalTicket.objects.create(
                                        source=Problem.Source.HOTLINE, external_number=f"GD-{unit.code}",
                                        problem=make_problem(w, unit=unit, created_by=person(unit),
                                                             source=Problem.Source.HOTLINE),
                                        digest="0" * 64, token=token(w, unit))),
    "ledgers.webhookendpoint": Entry(SCOPED, place=lambda row: row.unit, make=endpoint),
    "ledgers.webhookdelivery": Entry(READ_ONLY, place=lambda row: row.endpoint.unit,
                                     make=lambda w, unit: WebhookDelivery.objects.create(
                                         endpoint=endpoint(w, unit), event="item.closed", item=item(w, unit),
                                         body='{"event": "item.closed"}')),
    # ledgers/imports: a batch is its importer's alone (it holds their file and first sign-in codes).
    "ledgers.importbatch": Entry(READ_ONLY, place=lambda row: row.unit, private=True, make=batch),
    "ledgers.importmapping": Entry(READ_ONLY, place=lambda row: row.unit,
                                   make=lambda w, unit: ImportMapping.objects.create(
                                       unit=unit, kind=ImportBatch.Kind.LEDGER, mapping={"整改措施": "measure"},
                                       updated_by=person(unit))),
    "ledgers.importkey": Entry(READ_ONLY, place=lambda row: row.item.unit,
                               make=lambda w, unit: ImportKey.objects.create(
                                   unit=unit, key=f"{unit.code}-001", item=item(w, unit), batch=batch(w, unit))),
    "ledgers.activationcode": Entry(READ_ONLY, place=lambda row: row.user.unit,
                                    make=lambda w, unit: ActivationCode.objects.create(
                                        user=person(unit), digest=f"{unit.code:0>64}"[-64:], salt="0" * 32,
                                        batch=batch(w, unit), expires_at=timezone.now() + datetime.timedelta(days=14))),
    # ledgers/reports: a unit's letterhead is its own; a draft, an issued (frozen) version and the
    # journal follow their report's unit, and only the circular page writes them.
    "ledgers.circularsettings": Entry(SCOPED, place=lambda row: row.unit,
                                      make=lambda w, unit: CircularSettings.objects.create(
                                          unit=unit, mark=f"{unit.name}优化营商环境办公室", number_prefix="优化办",
                                          updated_by=person(unit))),
    "ledgers.circulardraft": Entry(READ_ONLY, place=lambda row: row.report.scope,
                                   make=lambda w, unit: CircularDraft.objects.create(
                                       report=report(w, unit), serial=3, opening="现将9月情况通报如下。",
                                       updated_by=person(unit))),
    "ledgers.issuedcircular": Entry(READ_ONLY, place=lambda row: row.report.scope, make=issued_circular),
    "ledgers.circularevent": Entry(READ_ONLY, place=lambda row: row.report.scope,
                                   make=lambda w, unit: CircularEvent.objects.create(
                                       report=report(w, unit), action=CircularEvent.Action.ISSUED,
                                       actor=person(unit), note="第1版")),
}

# Fields that carry a privilege, POSTed on every model that has them, whether the form shows them or not.
PRIVILEGE_FIELDS = ["is_superuser", "is_staff", "user_permissions", "groups"]


def label(model):
    return model._meta.label_lower


def entry(model):
    return ENTRIES[label(model)]


class FormFields(HTMLParser):
    """The name/value pairs a browser would submit for the form with the given id."""

    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.pairs = form_id, False, []
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input":
            kind, name = a.get("type", "text"), a.get("name")
            if not name or kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.pairs.append((name, a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select":
            self.select = {"name": a.get("name"), "multiple": "multiple" in a, "chosen": [], "first": None}
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            if self.select["first"] is None:
                self.select["first"] = value
            if "selected" in a:
                self.select["chosen"].append(value)
        elif tag == "textarea":
            self.textarea = [a.get("name"), ""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = self.select["chosen"]
            if not chosen and not self.select["multiple"] and self.select["first"] is not None:
                chosen = [self.select["first"]]
            self.pairs += [(self.select["name"], value) for value in chosen]
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            name, text = self.textarea
            self.pairs.append((name, text[1:] if text.startswith("\n") else text))  # as browsers drop it
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data


def submitted(response, model):
    parser = FormFields(f"{model._meta.model_name}_form")
    parser.feed(response.content.decode())
    data = {}
    for name, value in parser.pairs:
        data.setdefault(name, []).append(value)
    return data


def snapshot():
    """Every row of every admin model and of their many-to-many tables. Times are compared to the
    minute: the admin's time inputs show no more in zh-hans ("%H:%M"), so a round trip of the form
    drops the seconds, as it does in a browser."""
    def row(values):
        return tuple(v.replace(second=0, microsecond=0) if isinstance(v, datetime.datetime) else v for v in values)

    rows = {}
    for model in admin.site._registry:
        if model is ChangeStamp:  # a cache key the triggers renew on every write, even an unchanged save
            continue
        rows[label(model)] = [row(r) for r in model._default_manager.order_by("pk").values_list()]
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            rows[label(through)] = list(through.objects.order_by("pk").values_list())
    return rows


def changes(before, after):
    """The tables whose rows differ, with the rows that came and went."""
    return {table: {"gone": sorted(set(rows) - set(after[table]), key=str),
                    "new": sorted(set(after[table]) - set(rows), key=str)}
            for table, rows in before.items() if after[table] != rows}


def form_choice_fields(response):
    """(prefix, name, form field) for every FK/M2M field of the main form and its inline forms."""
    form = response.context["adminform"].form
    fields = [("", name, field) for name, field in form.fields.items()]
    for inline in response.context["inline_admin_formsets"]:
        for inline_form in [*inline.formset.forms, inline.formset.empty_form]:
            fields += [(inline_form.prefix, name, field) for name, field in inline_form.fields.items()]
    return [(prefix, name, field) for prefix, name, field in fields
            if isinstance(field, (forms.ModelChoiceField, forms.ModelMultipleChoiceField))]


class AdminScopeTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = cls.w = build_world()
        cls.admin_user = make_user("chen", w.C1, Role.ADMIN, is_staff=True, last_name="陈", first_name="管")
        cls.office_user = make_user("ou", w.C1, Role.OFFICE, is_staff=True, last_name="欧", first_name="办")
        cls.superuser = make_user("root", w.P, is_staff=True, is_superuser=True)
        # The row of each model inside the city (in its county 赫山区), above it and in the sibling city.
        cls.places = {"inside": w.K1, "above": w.P, "sibling": w.K3}
        cls.rows = {}
        for name, spec in ENTRIES.items():
            if spec.make is None:
                continue
            if spec.access == GLOBAL:
                cls.rows[name] = {"global": spec.make(w, None)}
            else:
                cls.rows[name] = {place: spec.make(w, unit) for place, unit in cls.places.items()}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if TALLY:
            figures = {**TALLY, "model fields forged": len(FORGED_FIELDS)}
            print("\nadmin scope:", json.dumps(dict(sorted(figures.items())), ensure_ascii=False))
            print("fields forged:", " ".join(sorted(f"{m}.{f}" for m, f in FORGED_FIELDS)))

    def assert_unchanged(self, before, message="the database changed"):
        self.assertEqual(changes(before, snapshot()), {}, message)

    # -- the oracle: where a row sits, independent of the code under test --------------------------

    def may_choose(self, row, actor):
        spec = entry(type(row))
        if spec.may_choose:
            return spec.may_choose(row, actor)
        if spec.access == GLOBAL:
            return True
        if spec.private:
            return False
        unit = spec.place(row)
        if unit is None:
            return False
        if unit.path.startswith(actor.unit.path):
            return True
        return spec.usable_from_below and actor.unit.path.startswith(unit.path)

    def forged_ids(self, model, actor):
        """One row the actor must not pick from above their unit, one from the sibling branch."""
        outside = [row for row in model._default_manager.order_by("pk") if not self.may_choose(row, actor)]
        spec = entry(model)
        if spec.access == GLOBAL:
            return []
        if spec.place is None:
            return [row.pk for row in outside[:2]]
        above = [r for r in outside if spec.place(r) and actor.unit.path.startswith(spec.place(r).path)]
        sibling = [r for r in outside if r not in above]
        self.assertTrue(sibling, f"the test world has no {label(model)} outside {actor.unit}: give it an Entry.make")
        return [row.pk for row in (above[:1] + sibling[:1])]

    def assert_choices_inside(self, response, actor, where):
        for prefix, name, field in form_choice_fields(response):
            related = field.queryset.model
            self.assertIn(label(related), ENTRIES, f"{where}.{name} offers {label(related)}: add it to ENTRIES")
            offered = list(field.queryset)
            TALLY["choice lists checked"] += 1
            TALLY["choices checked"] += len(offered)
            leaks = [str(row) for row in offered if not self.may_choose(row, actor)]
            self.assertEqual(leaks, [], f"{where} field {prefix}{name} offers rows outside {actor.unit}")

    # -- the walk ---------------------------------------------------------------------------------

    def urls(self, model, *args, view="change"):
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)

    def perms(self, actor, model):
        return {action: actor.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}")
                for action in ("view", "add", "change", "delete")}

    def walk_every_model(self, actor):
        self.client.force_login(actor)
        actor = User.objects.get(pk=actor.pk)  # fresh permission cache
        for model, model_admin in admin.site._registry.items():
            with self.subTest(model=label(model)):
                TALLY["admin models walked"] += 1
                self.walk_model(actor, model, model_admin)

    def walk_model(self, actor, model, model_admin):
        spec, perms = entry(model), self.perms(actor, model)
        before = snapshot()
        listing = self.client.get(self.urls(model, view="changelist"))
        if spec.access == SUPERUSER or not (perms["view"] or perms["change"]):
            self.assertEqual(listing.status_code, 403)
            self.assertEqual(self.client.get(self.urls(model, view="add")).status_code, 403)
            self.assertEqual(self.client.post(self.urls(model, view="add"), {}).status_code, 403)
            TALLY["refused requests"] += 3
            self.assert_unchanged(before)
            return
        self.assertEqual(listing.status_code, 200)
        listed = list(listing.context["cl"].result_list)
        self.assertEqual([str(r) for r in listed if not self.may_choose(r, actor) and spec.access != GLOBAL], [],
                         "the change list shows rows outside the subtree")
        for spec_filter in listing.context["cl"].filter_specs:
            if isinstance(spec_filter, admin.RelatedFieldListFilter):
                related = spec_filter.field.related_model
                TALLY["list filters checked"] += 1
                leaks = [text for pk, text in spec_filter.lookup_choices
                         if not self.may_choose(related._default_manager.get(pk=pk), actor)]
                self.assertEqual(leaks, [], f"the filter by {spec_filter.field_path} lists rows outside")

        may_add = spec.access == SCOPED and perms["add"]
        add = self.client.get(self.urls(model, view="add"))
        self.assertEqual(add.status_code, 200 if may_add else 403)
        if may_add:
            self.assert_choices_inside(add, actor, f"{label(model)} add")
            self.forge(actor, model, self.urls(model, view="add"), add)
        else:
            self.assertEqual(self.client.post(self.urls(model, view="add"), {}).status_code, 403)
            TALLY["refused requests"] += 1

        for place, row in self.rows.get(label(model), {}).items():
            if place == "inside" and model is User:
                row = User.objects.get(pk=row.pk)
            self.walk_row(actor, model, spec, perms, place, row)
        if model is User:
            self.walk_row(actor, model, spec, perms, "own account", actor)
        self.assert_unchanged(before, "the walk changed the database")

    def walk_row(self, actor, model, spec, perms, place, row):
        url = self.urls(model, row.pk)
        visible = place in ("inside", "global", "own account") and not spec.private or (
            place == "above" and spec.usable_from_below)
        response = self.client.get(url)
        if not visible:
            self.assertEqual(response.status_code, 302, f"{place} row is not hidden")  # "does not exist"
            for post in (url, self.urls(model, row.pk, view="delete")):
                self.assertIn(self.client.post(post, {"post": "yes"}).status_code, (302, 403))
                TALLY["refused requests"] += 1
            return
        self.assertEqual(response.status_code, 200)
        editable = spec.access == SCOPED and perms["change"] and place in ("inside", "own account")
        self.assertEqual(response.context["has_change_permission"], editable, f"{place} row editable?")
        if not editable:
            self.assertEqual(self.client.post(url, submitted(response, model)).status_code, 403)
            self.assertEqual(self.client.post(self.urls(model, row.pk, view="delete"), {"post": "yes"}).status_code,
                             403)
            TALLY["refused requests"] += 2
            return
        self.assert_choices_inside(response, actor, f"{label(model)} {place}")
        data = submitted(response, model)
        before = snapshot()
        control = self.client.post(url, data)  # the form as the browser sends it: valid, changes nothing
        self.assertEqual(control.status_code, 302, control.context and control.context["adminform"].form.errors)
        self.assert_unchanged(before, "a faithful round trip of the form changed the row")
        self.forge(actor, model, url, response, data)
        self.forge_privileges(actor, model, url, data, own=place == "own account")

    def forge(self, actor, model, url, response, data=None):
        """POST every FK/M2M field of the form with ids from outside: a form error on that field."""
        data = data if data is not None else submitted(response, model)
        before = snapshot()
        for prefix, name, field in form_choice_fields(response):
            key = f"{prefix}-{name}" if prefix else name
            if "__prefix__" in key:
                continue
            for forged in self.forged_ids(field.queryset.model, actor):
                value = data.get(key, []) + [str(forged)] if isinstance(field, forms.ModelMultipleChoiceField) \
                    else [str(forged)]
                answer = self.client.post(url, {**data, key: value})
                TALLY["forged posts"] += 1
                FORGED_FIELDS.add((label(model), name))
                self.assertEqual(answer.status_code, 200, f"{key}={forged} was accepted")
                form = answer.context["adminform"].form
                errors = form.errors if not prefix else {}
                if prefix:
                    for inline in answer.context["inline_admin_formsets"]:
                        for inline_form in inline.formset.forms:
                            if inline_form.prefix == prefix:
                                errors = inline_form.errors
                self.assertIn(name, errors, f"{key}={forged} refused for another reason")
        self.assert_unchanged(before)

    def forge_privileges(self, actor, model, url, data, own):
        names = {field.name for field in model._meta.get_fields()}
        forged = {"is_superuser": ["on"], "is_staff": ["on"],
                  "user_permissions": [str(pk) for pk in Permission.objects.values_list("pk", flat=True)[:5]],
                  "groups": [str(pk) for pk in Group.objects.values_list("pk", flat=True)]}
        if own:
            forged["unit"] = [str(self.w.P.pk)]
            forged["is_active"] = []
        attempts = [{key: value} for key, value in forged.items() if key in names] + [
            {key: value for key, value in forged.items() if key in names}]
        before = snapshot()
        for attempt in attempts:
            if attempt:
                self.client.post(url, {**data, **attempt})
                TALLY["privilege posts"] += 1
        self.assert_unchanged(before, "a privilege field was taken")

    def test_every_registered_model_has_an_entry(self):
        registered = {label(model) for model in admin.site._registry}
        self.assertEqual(registered - set(ENTRIES), set(),
                         "new admin model: add it to ENTRIES in tests/test_admin_scope.py")
        self.assertEqual(set(ENTRIES) - registered, set(), "stale entry in ENTRIES")

    def test_a_city_administrator_stays_inside_the_city_on_every_model(self):
        self.walk_every_model(self.admin_user)
        self.assertGreater(TALLY["forged posts"], 0)

    def test_the_city_office_staff_stay_inside_the_city_on_every_model(self):
        self.walk_every_model(self.office_user)

    def test_every_autocomplete_offers_only_rows_inside(self):
        for actor in (self.admin_user, self.office_user):
            self.client.force_login(actor)
            for source, model_admin in admin.site._registry.items():
                for name in model_admin.autocomplete_fields:
                    remote = source._meta.get_field(name).related_model
                    with self.subTest(actor=actor.username, field=f"{label(source)}.{name}"):
                        ids = self.autocomplete(source, name)
                        TALLY["autocomplete requests"] += 1
                        if ids is None:
                            self.assertFalse(actor.has_perm(f"{remote._meta.app_label}.view_{remote._meta.model_name}"))
                            continue
                        rows = remote._default_manager.filter(pk__in=ids)
                        self.assertEqual([str(r) for r in rows if not self.may_choose(r, actor)], [])

    def autocomplete(self, source, field_name, page=1):
        response = self.client.get(reverse("admin:autocomplete"), {
            "app_label": source._meta.app_label, "model_name": source._meta.model_name,
            "field_name": field_name, "term": "", "page": page})
        if response.status_code == 403:
            return None
        self.assertEqual(response.status_code, 200)
        body = response.json()
        ids = [result["id"] for result in body["results"]]
        return ids + (self.autocomplete(source, field_name, page + 1) if body["pagination"]["more"] else [])

    def test_a_superuser_still_opens_every_form(self):
        self.client.force_login(self.superuser)
        for model, model_admin in admin.site._registry.items():
            with self.subTest(model=label(model)):
                self.assertEqual(self.client.get(self.urls(model, view="changelist")).status_code, 200)
                add = self.client.get(self.urls(model, view="add"))
                self.assertEqual(add.status_code, 200 if model_admin.has_add_permission(add.wsgi_request) else 403)
                for row in itertools.islice(model._default_manager.order_by("pk"), 3):
                    self.assertEqual(self.client.get(self.urls(model, row.pk)).status_code, 200)
        form = self.client.get(self.urls(User, self.w.alice.pk)).context["adminform"].form
        self.assertTrue({"is_superuser", "is_staff", "groups", "user_permissions"} <= set(form.fields))
        self.assertEqual(form.fields["unit"].queryset.count(), Unit.objects.count())


class AdminScopeCasesTestCase(TestCase):
    """The cases of issue 9 one by one, as the attacker tried them."""

    @classmethod
    def setUpTestData(cls):
        w = cls.w = build_world()
        cls.chen = make_user("chen", w.C1, Role.ADMIN, is_staff=True)
        cls.ou = make_user("ou", w.C1, Role.OFFICE, is_staff=True)
        cls.sheng = make_user("sheng", w.P, Role.ADMIN, is_staff=True)

    def setUp(self):
        self.client.force_login(self.chen)

    def change_form(self, model, obj):
        url = reverse(f"admin:ledgers_{model._meta.model_name}_change", args=[obj.pk])
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return url, submitted(response, model)

    def test_they_cannot_make_themselves_superuser_or_move_their_own_unit(self):
        url, data = self.change_form(User, self.chen)
        response = self.client.post(url, {**data, "is_superuser": "on", "is_staff": "on", "unit": self.w.P.pk,
                                          "groups": list(Group.objects.values_list("pk", flat=True)),
                                          "last_name": "陈"})
        self.assertEqual(response.status_code, 302)  # their name is theirs to change, the rest is ignored
        self.chen.refresh_from_db()
        self.assertEqual((self.chen.last_name, self.chen.is_superuser, self.chen.unit), ("陈", False, self.w.C1))
        self.assertEqual(set(self.chen.groups.values_list("name", flat=True)), {"admin"})
        delete = reverse("admin:ledgers_user_delete", args=[self.chen.pk])
        self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 403)
        self.assertTrue(User.objects.filter(pk=self.chen.pk).exists())

    def test_a_new_superuser_cannot_be_made_in_two_steps(self):
        add = reverse("admin:ledgers_user_add")
        response = self.client.post(add, {"username": "mole", "usable_password": "true", "password1": "Mole@2026x!",
                                          "password2": "Mole@2026x!", "unit": self.w.K2.pk, "is_superuser": "on",
                                          "is_staff": "on"})
        self.assertEqual(response.status_code, 302)
        mole = User.objects.get(username="mole")
        url, data = self.change_form(User, mole)
        self.assertNotIn("is_superuser", data)
        self.client.post(url, {**data, "is_superuser": "on", "is_staff": "on",
                               "user_permissions": list(Permission.objects.values_list("pk", flat=True)[:3])})
        mole.refresh_from_db()
        self.assertEqual((mole.is_superuser, mole.is_staff, mole.user_permissions.count()), (False, False, 0))

    def test_a_user_keeps_the_roles_the_administrator_does_not_hold(self):
        page = self.client.get(reverse("admin:ledgers_user_change", args=[self.w.alice.pk]))
        self.assertContains(page, "领导、责任人")  # the roles they cannot give, shown by name
        self.assertNotContains(page, "user_permissions")
        url, data = self.change_form(User, self.w.alice)
        self.assertEqual(self.client.post(url, {**data, "groups": [Group.objects.get(name="admin").pk]}).status_code,
                         302)
        self.assertEqual(set(self.w.alice.groups.values_list("name", flat=True)), {"admin", "leader", "owner"})
        refused = self.client.post(url, {**data, "groups": [Group.objects.get(name="office").pk]})
        self.assertIn("groups", refused.context["adminform"].form.errors)

    def test_no_user_or_unit_moves_out_of_the_city(self):
        url, data = self.change_form(User, self.w.alice)
        response = self.client.post(url, {**data, "unit": self.w.K3.pk})
        self.assertIn("unit", response.context["adminform"].form.errors)
        url, data = self.change_form(Unit, self.w.K2)
        response = self.client.post(url, {**data, "parent": self.w.C2.pk})
        self.assertIn("parent", response.context["adminform"].form.errors)
        self.w.alice.refresh_from_db()
        self.assertEqual((self.w.alice.unit, Unit.objects.get(pk=self.w.K2.pk).parent), (self.w.K1, self.w.C1))
        self.assertFalse(self.client.get(reverse("admin:ledgers_unit_change", args=[self.w.C1.pk]))
                         .context["has_change_permission"], "their own unit hangs from the province")

    def test_they_still_manage_their_city(self):
        province_item = ServiceItem.objects.create(name="不动产登记", competent_unit=self.w.P)
        response = self.client.post(reverse("admin:ledgers_unit_add"), {
            "code": "430902-101", "name": "新兴街道", "level": "township", "kind": "region", "parent": self.w.K2.pk,
            "sort_order": 0, "is_active": "on"})
        self.assertEqual(response.status_code, 302)
        street = Unit.objects.get(code="430902-101")
        self.assertTrue(street.path.startswith(self.w.K2.path))
        response = self.client.post(reverse("admin:ledgers_user_add"), {
            "username": "jiedao", "usable_password": "true", "password1": "Jiedao@2026x!", "password2": "Jiedao@2026x!",
            "unit": street.pk})
        self.assertEqual(response.status_code, 302)
        url, data = self.change_form(User, User.objects.get(username="jiedao"))
        self.assertEqual(self.client.post(url, {**data, "groups": [Group.objects.get(name="admin").pk]}).status_code,
                         302)
        self.assertEqual(list(User.objects.get(username="jiedao").groups.values_list("name", flat=True)), ["admin"])
        response = self.client.post(reverse("admin:ledgers_campaign_add"), {
            "name": "益阳市走流程专项行动", "unit": self.w.C1.pk, "start_date": "2026-11-01",
            "must_walk_items": [province_item.pk], "created_at_0": "2026-11-01", "created_at_1": "09:00"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(list(Campaign.objects.get(name="益阳市走流程专项行动").must_walk_items.all()), [province_item])

    def test_a_unit_moves_inside_the_city_with_its_subtree(self):
        url, data = self.change_form(Unit, self.w.K1)
        self.assertEqual(self.client.post(url, {**data, "parent": self.w.K2.pk}).status_code, 302)
        self.assertTrue(Unit.objects.get(pk=self.w.K1D.pk).path.startswith(Unit.objects.get(pk=self.w.K2.pk).path))

    def test_a_superuser_account_in_the_subtree_is_not_theirs_to_change(self):
        boss = make_user("boss", self.w.K1, is_staff=True, is_superuser=True)
        self.assertFalse(self.client.get(reverse("admin:ledgers_user_change", args=[boss.pk]))
                         .context["has_change_permission"])
        password = reverse("admin:auth_user_password_change", args=[boss.pk])
        self.assertEqual(self.client.post(password, {"password1": "Taken@2026x!", "password2": "Taken@2026x!"})
                         .status_code, 403)
        boss.refresh_from_db()
        self.assertTrue(boss.check_password("walkflow-test-pw"))

    def test_nothing_is_created_in_the_sibling_city(self):
        for model, data in ((Unit, {"code": "433199", "name": "伪造区", "level": "county", "kind": "region",
                                    "parent": self.w.C2.pk, "sort_order": 0}),
                            (Campaign, {"name": "伪造行动", "unit": self.w.C2.pk, "start_date": "2026-11-01"}),
                            (Notification, {"recipient": self.w.frank.pk, "message": "越权消息"})):
            with self.subTest(model=model._meta.model_name):
                count = model.objects.count()
                response = self.client.post(reverse(f"admin:ledgers_{model._meta.model_name}_add"), data)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.context["adminform"].form.errors)
                self.assertEqual(model.objects.count(), count)

    def test_the_province_campaign_is_read_only_to_the_city_and_its_office(self):
        url = reverse("admin:ledgers_campaign_change", args=[self.w.campaign.pk])
        for actor in (self.chen, self.ou):
            self.client.force_login(actor)
            self.assertEqual(self.client.post(url, {"name": "改名", "unit": self.w.C1.pk,
                                                    "start_date": "2022-03-28"}).status_code, 403)
        self.w.campaign.refresh_from_db()
        self.assertEqual(self.w.campaign.unit, self.w.P)

    def test_global_settings_belong_to_the_province_administrator(self):
        subcategory = SubCategory.objects.create(category=Problem.Category.WINDOW, name="窗口业务能力有待提升")
        override = {"date": "2027-02-20", "is_workday": "on", "source": "国办发明电〔2026〕8号",
                    "created_at_0": "2026-11-02", "created_at_1": "09:00"}
        for actor in (self.chen, self.ou):
            self.client.force_login(actor)
            self.assertEqual(self.client.post(reverse("admin:ledgers_calendaroverride_add"), override).status_code,
                             403)
            self.assertEqual(self.client.post(reverse("admin:ledgers_subcategory_change", args=[subcategory.pk]),
                                              {"category": "window", "name": "改名", "sort_order": 0}).status_code, 403)
        self.assertFalse(CalendarOverride.objects.exists())
        self.client.force_login(self.sheng)
        self.assertEqual(self.client.post(reverse("admin:ledgers_calendaroverride_add"), override).status_code, 302)
        self.assertTrue(CalendarOverride.objects.filter(date="2027-02-20").exists())
        self.assertEqual(self.client.get(reverse("admin:auth_group_changelist")).status_code, 403)

    def test_a_form_that_let_an_outside_value_through_would_save_nothing(self):
        # The second line of defence: were a field's choices ever left unscoped, the save is rolled back.
        from ledgers.admin import WalkSessionAdmin

        walk = make_walk(self.w, unit=self.w.K2, leader=self.w.dave)
        url, data = self.change_form(WalkSession, walk)
        unscoped = admin.ModelAdmin.formfield_for_foreignkey
        original = WalkSessionAdmin.formfield_for_foreignkey
        WalkSessionAdmin.formfield_for_foreignkey = lambda self, f, request, **kw: unscoped(self, f, request, **kw)
        try:
            response = self.client.post(url, {**data, "unit": self.w.K3.pk})
        finally:
            WalkSessionAdmin.formfield_for_foreignkey = original
        self.assertEqual(response.status_code, 403)
        walk.refresh_from_db()
        self.assertEqual(walk.unit, self.w.K2)

    def test_bulk_delete_of_a_row_above_is_refused(self):
        above = ServiceItem.objects.create(name="药品生产许可核发", competent_unit=self.w.P)
        response = self.client.post(reverse("admin:ledgers_serviceitem_changelist"), {
            "action": "delete_selected", "_selected_action": [above.pk], "post": "yes"})
        self.assertEqual(response.status_code, 403)
        self.assertTrue(ServiceItem.objects.filter(pk=above.pk).exists())
        self.assertTrue(issubclass(type(admin.site._registry[ServiceItem]), ScopedAdmin))

    def test_an_issued_circular_and_its_journal_are_frozen_even_for_a_superuser(self):
        root = make_user("root", self.w.P, is_staff=True, is_superuser=True)
        issued = issued_circular(self.w, self.w.C1)
        event = CircularEvent.objects.create(report=issued.report, action=CircularEvent.Action.ISSUED, actor=root)
        self.client.force_login(root)
        for model, row in ((IssuedCircular, issued), (CircularEvent, event)):
            url = reverse(f"admin:ledgers_{model._meta.model_name}_change", args=[row.pk])
            self.assertFalse(self.client.get(url).context["has_change_permission"])
            self.assertEqual(self.client.post(url, {"docx_sha256": "0" * 64, "note": "改"}).status_code, 403)
            delete = reverse(f"admin:ledgers_{model._meta.model_name}_delete", args=[row.pk])
            self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 403)
        issued.refresh_from_db()
        event.refresh_from_db()
        self.assertEqual((issued.docx_sha256, event.note), ("a" * 64, ""))

    def test_a_letterhead_saved_unchanged_keeps_its_author_and_a_change_stamps_it(self):
        letterhead = CircularSettings.objects.create(unit=self.w.K1, mark="赫山区优化办", updated_by=self.w.dave)
        url, data = self.change_form(CircularSettings, letterhead)
        self.assertEqual(self.client.post(url, data).status_code, 302)
        letterhead.refresh_from_db()
        self.assertEqual(letterhead.updated_by, self.w.dave)
        self.assertEqual(self.client.post(url, {**data, "mark": "益阳市赫山区优化办"}).status_code, 302)
        letterhead.refresh_from_db()
        self.assertEqual((letterhead.mark, letterhead.updated_by), ("益阳市赫山区优化办", self.chen))
        sibling = CircularSettings.objects.create(unit=self.w.K3, mark="原样")
        self.client.post(reverse("admin:ledgers_circularsettings_change", args=[sibling.pk]), {**data, "mark": "改"})
        self.assertEqual(self.client.post(url, {**data, "unit": self.w.K3.pk}).status_code, 200)  # not theirs
        sibling.refresh_from_db()
        self.assertEqual(sibling.mark, "原样")
