"""The ledger pages: scope, each filter, counts, query counts, the item page and its actions, the
conflict page, bulk actions and saved filters."""

import datetime
import io
import re
from unittest.mock import patch

from django.db import connection
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from ledgers import services
from ledgers.models import (
    Attachment,
    Campaign,
    ClosureRecord,
    ItemEvent,
    Problem,
    RectificationItem,
    SavedFilter,
    ServiceItem,
    SubCategory,
    User,
)
from tests.world import as_if_committed, build_world, make_item, make_problem

Status = RectificationItem.Status


def ids_on(response):
    """Item ids listed in the ledger table, in order."""
    return [int(pk) for pk in re.findall(r'href="/items/(\d+)/"', response.content.decode())]


class LedgerPageTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        today = timezone.localdate()
        cls.today = today
        cls.sub = SubCategory.objects.create(category=Problem.Category.SYSTEM, name="系统不能共享共通")
        cls.other_campaign = Campaign.objects.create(name="2023年回头看", unit=w.C1, start_date=today)
        # K1 items: one red, one yellow, one comfortable, one closed
        cls.red = make_item(w, deadline=today - datetime.timedelta(days=10),
                            problem=make_problem(w, description="出生证明需要跑两次", source=Problem.Source.HOTLINE))
        cls.red.opened_on = today - datetime.timedelta(days=60)
        cls.yellow = make_item(w, deadline=today + datetime.timedelta(days=1), measure="压缩审批时限到3个工作日",
                               problem=make_problem(w, category=Problem.Category.SYSTEM, subcategory=cls.sub,
                                                    service_item=w.birth))
        cls.calm = make_item(w, deadline=today + datetime.timedelta(days=60), owner=w.alice, lead_unit=w.K1,
                             problem=make_problem(w, campaign=cls.other_campaign))
        cls.closed = make_item(w, status=Status.CLOSED, deadline=today - datetime.timedelta(days=5))
        # K2 (dave's) and K3 (frank's, other city)
        cls.k2 = make_item(w, owner=w.dave, lead_unit=w.K2, problem=make_problem(w, unit=w.K2),
                           deadline=today + datetime.timedelta(days=30))
        cls.k3 = make_item(w, owner=w.frank, lead_unit=w.K3, problem=make_problem(w, unit=w.K3))

    def get(self, user, **params):
        self.client.force_login(user)
        return self.client.get(reverse("ledger"), params)

    def test_it_lists_the_supervisors_subtree_only(self):
        response = self.get(self.w.bob)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(ids_on(response)), {self.red.pk, self.yellow.pk, self.calm.pk, self.closed.pk, self.k2.pk})
        self.assertEqual(set(ids_on(self.get(self.w.dave))), {self.k2.pk})

    def test_it_refuses_a_user_without_a_role(self):
        nobody = User.objects.create_user("nobody", password="x", unit=self.w.K1)
        self.assertEqual(self.get(nobody).status_code, 403)

    def test_it_requires_login(self):
        response = self.client.get(reverse("ledger"))
        self.assertEqual(response.status_code, 302)

    def test_each_filter_narrows(self):
        w = self.w
        cases = {
            "campaign": ({"campaign": self.other_campaign.pk}, {self.calm.pk}),
            "unit (with subtree)": ({"unit": w.K2.pk}, {self.k2.pk}),
            "unit at the top": ({"unit": w.C1.pk}, {self.red.pk, self.yellow.pk, self.calm.pk, self.closed.pk,
                                                    self.k2.pk}),
            "category": ({"category": "system"}, {self.yellow.pk}),
            "subcategory": ({"subcategory": self.sub.pk}, {self.yellow.pk}),
            "source": ({"source": "hotline"}, {self.red.pk}),
            "status": ({"status": "closed"}, {self.closed.pk}),
            "status open_all": ({"status": "open_all"}, {self.red.pk, self.yellow.pk, self.calm.pk, self.k2.pk}),
            "owner": ({"owner": w.alice.pk}, {self.calm.pk}),
            "lead unit": ({"lead_unit": w.K1.pk}, {self.calm.pk}),
            "service item": ({"service_item": w.birth.pk}, {self.yellow.pk}),
            "deadline range": ({"deadline_from": str(self.today - datetime.timedelta(days=6)),
                                "deadline_to": str(self.today + datetime.timedelta(days=2))},
                               {self.closed.pk, self.yellow.pk}),
            "red card": ({"card": "red"}, {self.red.pk}),
            "yellow card": ({"card": "yellow"}, {self.yellow.pk}),
            "no card": ({"card": "none"}, {self.calm.pk, self.closed.pk, self.k2.pk}),
            "search description": ({"q": "跑两次"}, {self.red.pk}),
            "search measure": ({"q": "压缩审批"}, {self.yellow.pk}),
        }
        for name, (params, expected) in cases.items():
            with self.subTest(name):
                self.assertEqual(set(ids_on(self.get(w.bob, **params))), expected)

    def test_it_combines_filters(self):
        response = self.get(self.w.bob, unit=self.w.K1.pk, card="red", q="出生")
        self.assertEqual(ids_on(response), [self.red.pk])

    def test_it_ignores_values_that_make_no_sense_with_a_message(self):
        w = self.w
        bad = {"unit": "abc", "owner": w.frank.pk, "campaign": "999999", "deadline_from": "2024-02-30",
               "card": "purple", "status": "lost", "sort": "price", "page": "-3", "service_item": w.disability.pk}
        response = self.get(w.bob, **bad)
        self.assertEqual(response.status_code, 200)
        page = response.content.decode()
        self.assertIn("无法识别，已忽略", page)
        self.assertIn("排序方式无法识别", page)
        # every bad value dropped: the whole scope is listed
        self.assertEqual(len(ids_on(response)), 5)
        # links of the page carry only the understood parameters
        self.assertEqual(response.context["query"], "")

    def test_it_keeps_good_filters_next_to_bad_ones(self):
        response = self.get(self.w.bob, unit="abc", card="red")
        self.assertEqual(ids_on(response), [self.red.pk])
        self.assertEqual(response.context["query"], "card=red")

    def test_it_does_not_accept_a_unit_outside_the_scope(self):
        response = self.get(self.w.dave, unit=self.w.K1.pk)
        self.assertEqual(ids_on(response), [self.k2.pk])
        self.assertIn("无法识别，已忽略", response.content.decode())

    def test_it_counts_per_status_and_card_for_the_current_filter(self):
        counts = self.get(self.w.bob).context["counts"]
        self.assertEqual((counts["total"], counts["red"], counts["yellow"]), (5, 1, 1))
        self.assertEqual(counts["status_open"], 4)
        self.assertEqual(counts["status_closed"], 1)
        counts = self.get(self.w.bob, unit=self.w.K2.pk).context["counts"]
        self.assertEqual((counts["total"], counts["red"], counts["status_open"]), (1, 0, 1))

    def test_it_shows_cards_readable_without_colour(self):
        page = self.get(self.w.bob, card="red").content.decode()
        self.assertIn('class="mark mark-red"', page)
        self.assertRegex(page, r"红牌 逾期\d+个工作日")

    def test_it_sorts(self):
        w = self.w
        self.assertEqual(ids_on(self.get(w.bob, sort="deadline"))[:2], [self.red.pk, self.closed.pk])
        # days overdue: open items first, oldest deadline first; closed last
        by_overdue = ids_on(self.get(w.bob, sort="overdue"))
        self.assertEqual(by_overdue[0], self.red.pk)
        self.assertEqual(by_overdue[-1], self.closed.pk)
        self.assertEqual(ids_on(self.get(w.bob, sort="unit"))[-1], self.k2.pk)  # K2 sorts after K1 and K1D
        RectificationItem.objects.filter(pk=self.calm.pk).update(updated_at=timezone.now() + datetime.timedelta(1))
        self.assertEqual(ids_on(self.get(w.bob, sort="-updated"))[0], self.calm.pk)

    @override_settings(LEDGER_PAGE_SIZE=2)
    def test_it_paginates_with_the_total_from_the_aggregate(self):
        first = self.get(self.w.bob)
        self.assertEqual(len(ids_on(first)), 2)
        self.assertEqual(first.context["page"].paginator.num_pages, 3)
        last = self.get(self.w.bob, page=3)
        self.assertEqual(len(ids_on(last)), 1)
        beyond = self.get(self.w.bob, page=99)  # clamps to the last page, never a 500
        self.assertEqual(beyond.context["page"].number, 3)

    def test_it_shows_bulk_actions_to_supervisors_only(self):
        self.assertContains(self.get(self.w.bob), 'id="bulk-form"')
        self.assertNotContains(self.get(self.w.carol), 'name="action"')

    def test_nav_links_to_the_ledger(self):
        self.client.force_login(self.w.carol)
        self.assertContains(self.client.get(reverse("home")), 'href="/ledger/"')


class LedgerRowsMarkupTestCase(TestCase):
    """The rows are written in Python (views/ledger.py _rows_html): every value escaped."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_every_value_of_a_row_is_escaped(self):
        w = self.w
        hostile = '<script>alert("x")</script>&\''
        w.K1.name = f"赫山区{hostile}"
        w.K1.save()
        w.carol.last_name = f"陈{hostile}"
        w.carol.save()
        item = make_item(w, problem=make_problem(w, description=f"窗口{hostile}"), measure=f"措施{hostile}")
        self.client.force_login(w.bob)
        page = self.client.get(reverse("ledger")).content.decode()
        self.assertNotIn("<script>", page)
        escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;"
        for text in (f"窗口{escaped}", f"措施{escaped}", f"赫山区{escaped}", f"陈{escaped}"):
            self.assertIn(text, page)
        self.assertIn(f'<a href="/items/{item.pk}/">', page)
        self.assertIn(f'<input type="checkbox" name="items" value="{item.pk}" class="row-check" '
                      f'aria-label="选择第 {item.pk} 号">', page)
        self.assertIn('<td class="c-fact" data-label="所属单位">', page)


class LedgerClipTestCase(TestCase):
    def test_the_rows_clip_texts_as_truncatechars_did_in_every_language(self):
        from django.utils import translation
        from django.utils.text import Truncator

        from ledgers.views.ledger import _clipper

        texts = ["", "短", "窗" * 60, "窗" * 61, "a" * 100, "申请人已提交身份证，仍需填写民族成分确认表" * 5]
        for language in ("zh-hans", "en"):
            with translation.override(language):
                clip = _clipper()
                self.assertEqual([clip(text) for text in texts], [Truncator(text).chars(60) for text in texts])
        with translation.override("zh-hans"):
            self.assertEqual(_clipper()("窗" * 61), "窗" * 57 + "...")


class LedgerQueryCountTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def count_queries(self, params, expected):
        self.client.force_login(self.w.bob)
        # The session renews itself on the first request, which also puts the choice lists of
        # bob's unit and the unfiltered counts in the cache.
        as_if_committed()
        self.client.get(reverse("ledger"))
        with self.assertNumQueries(expected):
            response = self.client.get(reverse("ledger"), params)
        self.assertEqual(response.status_code, 200)
        return response

    # Queries of one page, whatever the rows: session, user with the header's unread count, the
    # change stamps (the user's unit and roles, the calendar's overrides and the filter choices
    # are cached under them), saved filters: 4; the page's sorted ids with their record stamps: 1;
    # the counts (total, per status, per card), one aggregate over the disjoint parts of the scope
    # (by unit, by lead unit only, owned only: each one index) appended: 1, unless kept (the ledger
    # as it opens, with no change since); the rows not kept in the cache, with problem,
    # sub-category, units, owner: 1, or none. (The session is written at most every 5 minutes: no
    # save here.)
    BASE, COUNTS, ROWS = 4, 1, 1
    # The ledger as it opens, a second time with no change in between.
    UNFILTERED = BASE + 1
    # A filtered ledger of at most SMALL_SET items: the ids and the counts come from one read of
    # the matching items' ids, statuses and deadlines (sorted in Python), then the page's record
    # stamps: 2.
    FILTERED = BASE + 2

    def test_the_number_of_queries_does_not_grow_with_the_rows(self):
        w = self.w
        make_item(w)
        self.assertEqual(len(ids_on(self.count_queries({}, self.UNFILTERED))), 1)
        for n in range(30):
            make_item(w, owner=w.alice if n % 2 else w.carol, lead_unit=w.K1 if n % 3 else w.K1D,
                      problem=make_problem(w, unit=w.K2 if n % 2 else w.K1))
        self.assertEqual(len(ids_on(self.count_queries({}, self.UNFILTERED))), 31)
        make_item(w)  # the first request after a change counts again and reads the new row alone
        as_if_committed()
        with self.assertNumQueries(self.BASE + self.COUNTS + 1 + self.ROWS) as queries:
            self.assertEqual(len(ids_on(self.client.get(reverse("ledger")))), 32)
        [rows] = [query["sql"] for query in queries.captured_queries if '"ledgers_problem"."description"' in query["sql"]]
        self.assertRegex(rows, r'"ledgers_rectificationitem"\."id" IN \(\d+\)')  # the new item's row alone
        filtered = {"card": "none", "sort": "overdue", "q": "民族"}
        self.assertEqual(len(ids_on(self.count_queries(filtered, self.FILTERED))), 32)
        with override_settings(LEDGER_PAGE_SIZE=10), patch("ledgers.views.ledger.SMALL_SET", 20):
            # More matches than SMALL_SET: counted per part of the scope, after the one read that
            # found too many (a filtered set's counts are not kept); its rows are kept.
            self.assertEqual(len(ids_on(self.count_queries(filtered, self.BASE + 1 + self.COUNTS + 1))), 10)

    def test_a_model_choice_filter_adds_one_lookup_not_one_per_row(self):
        w = self.w
        for _ in range(5):
            make_item(w)
        self.client.force_login(w.bob)
        self.client.get(reverse("ledger"))  # session renewed, choice lists cached
        # the filtered page above plus one lookup to validate the chosen unit
        with self.assertNumQueries(self.FILTERED + 1):
            response = self.client.get(reverse("ledger"), {"unit": w.K1.pk})
        self.assertEqual(len(ids_on(response)), 5)

    def test_a_small_filtered_set_counts_and_pages_as_the_parts_do(self):
        """The one-read path and the per-part path give the same counts and the same page in
        every sort order, whichever part of the scope the items come from."""
        w = self.w
        today = timezone.localdate()
        for n in range(23):
            make_item(w, owner=w.alice if n % 2 else w.carol, lead_unit=w.K1 if n % 3 else w.K1D,
                      deadline=today + datetime.timedelta(days=n % 7 - 3),
                      status=[Status.OPEN, Status.IN_PROGRESS, Status.CLOSED][n % 3],
                      problem=make_problem(w, unit=[w.K1, w.K2, w.K3][n % 3], description=f"窗口{n}"))
        self.client.force_login(w.dave)  # K2: sees by unit, by lead unit (K1 … no), owns some
        with override_settings(LEDGER_PAGE_SIZE=10):
            for sort in ("deadline", "-deadline", "overdue", "unit", "-updated"):
                for page in ("1", "2", "3"):
                    params = {"q": "窗口", "sort": sort, "page": page}
                    small = self.client.get(reverse("ledger"), params)
                    with patch("ledgers.views.ledger.SMALL_SET", 0):
                        parts = self.client.get(reverse("ledger"), params)
                    with self.subTest(sort=sort, page=page):
                        self.assertEqual(small.context["counts"], parts.context["counts"])
                        self.assertEqual(ids_on(small), ids_on(parts))
        self.assertGreater(small.context["counts"]["total"], 0)


class ItemPageTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.item = make_item(self.w)

    def action(self, user, action, data, files=None):
        self.client.force_login(user)
        payload = {f"{action}-{key}": value for key, value in data.items()}
        payload.update(files or {})
        return self.client.post(reverse("item_action", args=[self.item.pk, action]), payload)

    def test_it_shows_the_item_to_its_scope_and_owner_only(self):
        w = self.w
        for user, status in ((w.bob, 200), (w.carol, 200), (w.alice, 200), (w.dave, 404), (w.frank, 404)):
            self.client.force_login(user)
            with self.subTest(user.username):
                self.assertEqual(self.client.get(reverse("item_detail", args=[self.item.pk])).status_code, status)

    def test_it_shows_each_role_its_own_actions(self):
        w = self.w
        self.client.force_login(w.carol)
        page = self.client.get(self.item.get_absolute_url()).content.decode()
        self.assertIn('id="action-closure"', page)
        self.assertIn('id="action-progress"', page)
        self.assertNotIn('id="action-deadline"', page)
        self.client.force_login(w.bob)
        page = self.client.get(self.item.get_absolute_url()).content.decode()
        self.assertIn('id="action-deadline"', page)
        self.assertNotIn('id="action-closure"', page)
        self.assertNotIn('id="action-approve"', page)

    def test_it_shows_the_timeline_photos_and_closure_figures(self):
        w = self.w
        services.add_progress(w.carol, self.item.pk, note="已对接公安户籍系统")
        services.request_closure(w.carol, self.item.pk, evidence="已上线", figures={"trips_before": 2,
                                                                                    "trips_after": 0})
        self.client.force_login(w.bob)
        page = self.client.get(self.item.get_absolute_url()).content.decode()
        self.assertIn("已对接公安户籍系统", page)
        self.assertIn("跑动次数", page)
        self.assertIn('id="action-approve"', page)

    def test_the_item_page_makes_a_fixed_number_of_queries(self):
        w = self.w
        for n in range(5):
            services.add_progress(w.carol, self.item.pk, note=f"进展{n}")
        self.client.force_login(w.bob)
        self.client.get(self.item.get_absolute_url())  # warm the content-type cache
        # A repeated view: session, user with the unread count, the change stamps (the user's unit
        # and roles, the calendar's overrides, and the owners and units of the reassign and
        # lead-unit forms are cached under them), the item's row with its units: 4; the record comes
        # from the cache under the item's record stamp (the session is not written again within 5
        # minutes).
        with self.assertNumQueries(4):
            response = self.client.get(self.item.get_absolute_url())
        self.assertEqual(response.status_code, 200)
        # After a change the record is read again: the item with its problem, walk, units and owner,
        # closures with people, extension requests with people, visible files, cooperating units,
        # events with actors: 6 more. On PostgreSQL the wide read runs in a transaction of its own
        # that fixes the join order (ledgers/db.py): 3 statements more.
        cold = 4 + 6 + (3 if connection.vendor == "postgresql" else 0)
        for n in range(5):
            services.add_progress(w.carol, self.item.pk, note=f"更多进展{n}")
        with self.assertNumQueries(cold):
            page = self.client.get(self.item.get_absolute_url()).content.decode()
        self.assertIn("更多进展4", page)
        with self.assertNumQueries(4):
            again = self.client.get(self.item.get_absolute_url()).content.decode()
        record = page.index('<div class="item-main">')  # the forms before it carry a fresh CSRF token
        self.assertEqual(again[record:], page[record:])

    def test_an_owner_reports_progress_through_the_page(self):
        response = self.action(self.w.carol, "progress", {"version": 1, "note": "正在改造系统"})
        self.assertRedirects(response, self.item.get_absolute_url(), fetch_redirect_response=False)
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.IN_PROGRESS)

    def test_an_owner_asks_for_closure_with_a_file(self):
        out = io.BytesIO()
        Image.new("RGB", (4, 4), "blue").save(out, format="PNG")
        upload = SimpleUploadedFile("整改后.png", out.getvalue(), content_type="image/png")
        response = self.action(self.w.carol, "closure", {"version": 1, "evidence": "已整改到位", "time_limit_before": 10,
                                                         "time_limit_after": 6}, {"closure-files": [upload]})
        self.assertEqual(response.status_code, 302)
        record = ClosureRecord.objects.get()
        self.assertEqual((record.time_limit_before, record.time_limit_after), (10, 6))
        attachment = Attachment.objects.get()
        self.assertEqual((attachment.closure, attachment.content_type, attachment.original_name),
                         (record, "image/jpeg", "整改后.jpg"))

    def test_a_closure_without_evidence_or_with_a_bad_file_writes_nothing(self):
        response = self.action(self.w.carol, "closure", {"version": 1, "evidence": " "})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "申请销号须填写整改情况及佐证说明", status_code=400)
        bad = SimpleUploadedFile("evil.jpg", b"MZ\x90\x00 not an image", content_type="image/jpeg")
        response = self.action(self.w.carol, "closure", {"version": 1, "evidence": "有材料"}, {"closure-files": [bad]})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "不是可识别的图片或 PDF", status_code=400)
        response = self.action(self.w.carol, "closure", {"version": 1, "evidence": "x", "steps_before": 5})
        self.assertContains(response, "成对填写", status_code=400)
        self.assertFalse(ClosureRecord.objects.exists())
        self.assertFalse(Attachment.objects.exists())
        self.assertFalse(ItemEvent.objects.exists())

    def test_it_answers_403_for_the_wrong_role_and_404_out_of_scope(self):
        w = self.w
        services.request_closure(w.carol, self.item.pk, evidence="已整改")
        self.assertEqual(self.action(w.alice, "approve", {"version": 2}).status_code, 403)
        self.assertEqual(self.action(w.bob, "progress", {"version": 2, "note": "x"}).status_code, 403)
        self.assertEqual(self.action(w.dave, "approve", {"version": 2}).status_code, 404)
        self.assertEqual(self.action(w.frank, "progress", {"version": 2, "note": "x"}).status_code, 404)
        self.assertEqual(self.action(w.bob, "no-such-action", {}).status_code, 404)
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.CLOSURE_REQUESTED)

    def test_a_refused_transition_shows_a_message_and_writes_nothing(self):
        response = self.action(self.w.bob, "approve", {"version": 1})
        self.assertEqual(response.status_code, 302)
        page = self.client.get(response.url).content.decode()
        self.assertIn("不在“申请销号”状态", page)
        self.assertFalse(ItemEvent.objects.exists())

    def test_the_actions_require_post(self):
        self.client.force_login(self.w.carol)
        response = self.client.get(reverse("item_action", args=[self.item.pk, "progress"]))
        self.assertEqual(response.status_code, 405)

    def test_a_supervisor_approves_through_the_page(self):
        services.request_closure(self.w.carol, self.item.pk, evidence="已整改")
        response = self.action(self.w.bob, "approve", {"version": 2, "note": "同意"})
        self.assertEqual(response.status_code, 302)
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.CLOSED)

    def test_a_supervisor_reassigns_through_the_page(self):
        response = self.action(self.w.bob, "reassign", {"version": 1, "owner": self.w.alice.pk})
        self.assertEqual(response.status_code, 302)
        self.item.refresh_from_db()
        self.assertEqual(self.item.owner, self.w.alice)
        # an owner outside bob's scope is not even a valid choice
        response = self.action(self.w.bob, "reassign", {"version": 2, "owner": self.w.frank.pk})
        self.assertEqual(response.status_code, 400)


class ConflictTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_the_second_save_gets_the_conflict_page_and_writes_nothing(self):
        w = self.w
        item = make_item(w)
        old_deadline = item.deadline
        # bob and another supervisor both open the page at version 1; the other one saves first.
        services.set_deadline(w.bob, item.pk, deadline=old_deadline + datetime.timedelta(days=5), note="先改",
                              version=1)
        self.client.force_login(w.bob)
        response = self.client.post(reverse("item_action", args=[item.pk, "deadline"]), {
            "deadline-version": 1, "deadline-deadline": str(old_deadline + datetime.timedelta(days=9)),
            "deadline-note": "后改"})
        self.assertEqual(response.status_code, 409)
        page = response.content.decode()
        self.assertIn("修改冲突", page)
        self.assertIn("调整整改时限", page)  # the change made in between
        self.assertIn(str(old_deadline + datetime.timedelta(days=5)), page)
        self.assertIn("后改", page)  # what the user submitted, so it is not lost
        item.refresh_from_db()
        self.assertEqual((item.version, item.deadline), (2, old_deadline + datetime.timedelta(days=5)))
        self.assertEqual(item.events.count(), 1)

    def test_an_owner_on_a_stale_page_gets_the_conflict_page(self):
        w = self.w
        item = make_item(w)
        services.reassign_owner(w.bob, item.pk, owner=w.alice)
        services.reassign_owner(w.bob, item.pk, owner=w.carol)
        self.client.force_login(w.carol)
        response = self.client.post(reverse("item_action", args=[item.pk, "progress"]),
                                    {"progress-version": 1, "progress-note": "进展"})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(len(response.context["events"]), 2)
        self.assertFalse(ItemEvent.objects.filter(action=ItemEvent.Action.PROGRESS).exists())


class BulkAndSavedFilterViewTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_a_supervisor_approves_selected_rows(self):
        w = self.w
        items = [make_item(w) for _ in range(3)]
        for item in items[:2]:
            services.request_closure(w.carol, item.pk, evidence="已整改")
        self.client.force_login(w.bob)
        response = self.client.post(reverse("ledger_bulk"), {"action": "approve", "items": [i.pk for i in items],
                                                              "note": "集中销号", "query": "card=red&evil=1"})
        self.assertRedirects(response, "/ledger/?card=red", fetch_redirect_response=False)
        statuses = dict(RectificationItem.objects.values_list("pk", "status"))
        self.assertEqual([statuses[i.pk] for i in items], [Status.CLOSED, Status.CLOSED, Status.OPEN])
        page = self.client.get(response.url).content.decode()
        self.assertIn("已处理 2 条", page)
        self.assertIn(f"编号 {items[2].pk} 未处理", page)

    def test_bulk_needs_a_supervisor_and_valid_input(self):
        w = self.w
        item = make_item(w)
        self.client.force_login(w.carol)
        self.assertEqual(self.client.post(reverse("ledger_bulk"), {"action": "approve", "items": [item.pk]})
                         .status_code, 403)
        self.client.force_login(w.bob)
        for data in ({"action": "reassign", "items": [item.pk]},  # no owner
                     {"action": "deadline", "items": [item.pk]},  # no deadline
                     {"action": "approve"},  # nothing selected
                     {"action": "approve", "items": ["x"]},
                     {"action": "explode", "items": [item.pk]}):
            response = self.client.post(reverse("ledger_bulk"), data)
            self.assertEqual(response.status_code, 302)
        self.assertFalse(ItemEvent.objects.exists())

    def test_a_user_saves_opens_and_deletes_a_filter(self):
        w = self.w
        red = make_item(w, deadline=timezone.localdate() - datetime.timedelta(days=3),
                        opened_on=timezone.localdate() - datetime.timedelta(days=30))
        make_item(w)
        self.client.force_login(w.bob)
        response = self.client.post(reverse("saved_filter_save"), {"name": "本月红牌", "query": "card=red&x=<b>"})
        self.assertEqual(response.status_code, 302)
        saved = SavedFilter.objects.get(user=w.bob)
        self.assertEqual((saved.name, saved.query), ("本月红牌", "card=red"))
        page = self.client.get(reverse("ledger"))
        self.assertContains(page, "本月红牌")
        self.assertEqual(ids_on(self.client.get(f"/ledger/?{saved.query}")), [red.pk])
        # saving again under the same name replaces it
        self.client.post(reverse("saved_filter_save"), {"name": "本月红牌", "query": "card=yellow"})
        self.assertEqual(SavedFilter.objects.get(user=w.bob).query, "card=yellow")
        # another user cannot delete it
        self.client.force_login(w.dave)
        self.assertEqual(self.client.post(reverse("saved_filter_delete", args=[saved.pk])).status_code, 404)
        self.client.force_login(w.bob)
        self.client.post(reverse("saved_filter_delete", args=[saved.pk]))
        self.assertFalse(SavedFilter.objects.exists())

    def test_a_saved_filter_needs_a_name(self):
        self.client.force_login(self.w.bob)
        self.client.post(reverse("saved_filter_save"), {"name": "", "query": "card=red"})
        self.assertFalse(SavedFilter.objects.exists())

    def test_the_home_page_links_owners_to_their_items(self):
        item = make_item(self.w)
        self.client.force_login(self.w.carol)
        page = self.client.get(reverse("home")).content.decode()
        self.assertIn(item.get_absolute_url(), page)
        self.assertIn(f"owner={self.w.carol.pk}", page)

    def test_service_items_outside_scope_are_not_choices(self):
        self.client.force_login(self.w.bob)
        names = [name for _pk, name in self.client.get(reverse("ledger")).context["choices"]["service_items"]]
        self.assertIn(self.w.birth.name, names)
        self.assertNotIn(ServiceItem.objects.get(name="残疾人证办理").name, names)
