"""Performance round 2 (issue 10): the copied unit paths stay right whatever writes the rows, the
disjoint parts of a scope add up to the scope, and a cached choice list changes on the next request
after an edit."""

import datetime
from types import SimpleNamespace

import time_machine
from django.db.models import Count
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from ledgers import services
from ledgers.models import (
    Attachment,
    ClosureRecord,
    Notification,
    Problem,
    RectificationItem,
    Role,
    Unit,
    User,
    WalkSession,
    count_over_parts,
)
from ledgers.roles import grant
from ledgers.units import create_unit, move_unit

from .world import as_if_committed, build_world, make_item, make_problem, make_user, make_walk


def paths(item):
    item.refresh_from_db()
    return item.unit_path, item.lead_path


class ItemPathsTestCase(TestCase):
    """The database fills and rewrites RectificationItem.unit_path / lead_path itself (migration 0006)."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_it_fills_the_paths_of_a_new_item(self):
        item = make_item(self.w)
        self.assertEqual(paths(item), (self.w.K1.path, self.w.K1D.path))

    def test_it_fills_the_paths_of_items_written_in_bulk(self):
        w = self.w
        problem = make_problem(w, unit=w.K2)
        [item] = RectificationItem.objects.bulk_create([RectificationItem(
            problem=problem, unit=w.K2, lead_unit=w.K2, owner=w.dave, measure="批量写入",
            deadline=timezone.localdate() + datetime.timedelta(days=10))])
        self.assertEqual(paths(item), (w.K2.path, w.K2.path))
        self.assertIn(item, RectificationItem.objects.visible_to(w.dave))

    def test_a_wrong_path_written_by_code_is_corrected(self):
        item = make_item(self.w)
        RectificationItem.objects.filter(pk=item.pk).update(unit_path="9999.", lead_path="9999.")
        self.assertEqual(paths(item), (self.w.K1.path, self.w.K1D.path))

    def test_a_new_lead_unit_moves_the_item_into_its_scope(self):
        w = self.w
        item = make_item(w)
        self.assertNotIn(item, RectificationItem.objects.visible_to(w.dave))
        services.change_lead_unit(w.bob, item.pk, lead_unit=w.K2)
        self.assertEqual(paths(item), (w.K1.path, w.K2.path))
        self.assertIn(item, RectificationItem.objects.visible_to(w.dave))

    def test_moving_a_unit_rewrites_the_paths_of_its_subtree_items(self):
        w = self.w
        item = make_item(w)  # unit K1, lead unit K1D (under K1)
        frank_supervisor = make_user("hong", w.C2, Role.SUPERVISOR)
        self.assertNotIn(item, RectificationItem.objects.visible_to(frank_supervisor))
        move_unit(w.K1, w.C2)
        w.K1.refresh_from_db()
        w.K1D.refresh_from_db()
        self.assertTrue(w.K1D.path.startswith(w.C2.path))
        self.assertEqual(paths(item), (w.K1.path, w.K1D.path))
        self.assertIn(item, RectificationItem.objects.visible_to(frank_supervisor))
        self.assertNotIn(item, RectificationItem.objects.visible_to(w.bob))


class ItemSearchTextTestCase(TestCase):
    """The database keeps each item's search text (migration 0016: its problem's description and its
    measure, upper-cased), whatever writes them; the ledger's search word reads it and finds what
    icontains on the two texts found."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def search_text(self, item):
        item.refresh_from_db()
        return item.search_text

    def found(self, word):
        self.client.force_login(self.w.bob)
        response = self.client.get(reverse("ledger"), {"q": word})
        self.assertEqual(response.status_code, 200)
        return {entry.pk for entry in response.context["page"].object_list}

    def test_it_is_written_on_insert_in_bulk_and_on_every_change(self):
        w = self.w
        item = make_item(w, problem=make_problem(w, description="Window 窗口排队"), measure="增设 kiosk")
        self.assertEqual(self.search_text(item), "WINDOW 窗口排队\x1f增设 KIOSK")
        problem = make_problem(w, description="批量")
        [bulk] = RectificationItem.objects.bulk_create([RectificationItem(
            problem=problem, unit=w.K1, lead_unit=w.K1, owner=w.carol, measure="写入",
            deadline=timezone.localdate() + datetime.timedelta(days=10))])
        self.assertEqual(self.search_text(bulk), "批量\x1f写入")
        item.problem.description = "材料 twice"
        item.problem.save()  # as the admin saves it
        self.assertEqual(self.search_text(item), "材料 TWICE\x1f增设 KIOSK")
        RectificationItem.objects.filter(pk=item.pk).update(measure="new measure")
        self.assertEqual(self.search_text(item), "材料 TWICE\x1fNEW MEASURE")
        RectificationItem.objects.filter(pk=item.pk).update(search_text="forged")
        self.assertEqual(self.search_text(item), "材料 TWICE\x1fNEW MEASURE")
        RectificationItem.objects.filter(pk=item.pk).update(problem=problem)
        self.assertEqual(self.search_text(item), "批量\x1fNEW MEASURE")

    def test_the_ledger_finds_a_word_in_either_text_as_icontains_did(self):
        w = self.w
        in_description = make_item(w, problem=make_problem(w, description="自助终端 Offline 100% 故障"), measure="维修")
        in_measure = make_item(w, problem=make_problem(w, description="排队"), measure="增设_窗口")
        make_item(w, problem=make_problem(w, description="无关"), measure="无关")
        self.assertEqual(RectificationItem.objects.count(), 3)
        self.assertEqual(self.found("offline"), {in_description.pk})  # ASCII case folded
        self.assertEqual(self.found("100%"), {in_description.pk})  # % and _ are literal
        self.assertEqual(self.found("0% 故"), {in_description.pk})
        self.assertEqual(self.found("设_窗"), {in_measure.pk})
        self.assertEqual(self.found("窗口"), {in_measure.pk})
        self.assertEqual(self.found("%"), {in_description.pk})
        # Never across the two texts: the end of the description and the start of the measure.
        self.assertEqual(self.found("故障维修"), set())
        self.assertEqual(self.found("故障\x1f维修"), set())


class ItemCategoryTestCase(TestCase):
    """The database copies the problem's category onto its items (migration 0014), whatever writes
    them, and the ledger's category filter reads that copy."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def category(self, item):
        item.refresh_from_db()
        return item.category

    def test_a_new_item_and_items_written_in_bulk_get_the_category(self):
        w = self.w
        self.assertEqual(self.category(make_item(w, problem=make_problem(w, category="system"))), "system")
        problem = make_problem(w, category="coordination")
        [item] = RectificationItem.objects.bulk_create([RectificationItem(
            problem=problem, unit=w.K1, lead_unit=w.K1, owner=w.carol, measure="批量写入",
            deadline=timezone.localdate() + datetime.timedelta(days=10))])
        self.assertEqual(self.category(item), "coordination")

    def test_a_changed_problem_category_reaches_its_items(self):
        w = self.w
        problem = make_problem(w, category="window")
        first, second = make_item(w, problem=problem), make_item(w, problem=problem)
        problem.category = "process"
        problem.save()  # as the admin saves it
        self.assertEqual((self.category(first), self.category(second)), ("process", "process"))

    def test_a_wrong_category_written_by_code_or_another_problem_is_corrected(self):
        w = self.w
        item = make_item(w, problem=make_problem(w, category="window"))
        RectificationItem.objects.filter(pk=item.pk).update(category="system")
        self.assertEqual(self.category(item), "window")
        RectificationItem.objects.filter(pk=item.pk).update(problem=make_problem(w, category="process"))
        self.assertEqual(self.category(item), "process")

    def test_the_ledger_filters_by_the_copy(self):
        w = self.w
        window = make_item(w, problem=make_problem(w, category="window"))
        system = make_item(w, problem=make_problem(w, category="system"))
        self.client.force_login(w.bob)
        page = self.client.get(reverse("ledger"), {"category": "window"})
        ids = [item.pk for item in page.context["page"].object_list]
        self.assertIn(window.pk, ids)
        self.assertNotIn(system.pk, ids)
        window.problem.category = "system"
        window.problem.save()
        page = self.client.get(reverse("ledger"), {"category": "window"})
        self.assertNotIn(window.pk, [item.pk for item in page.context["page"].object_list])


class VisiblePartsTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = cls.w = build_world()
        make_item(w)  # found in K1, led by K1D, owned by carol
        make_item(w, problem=make_problem(w, unit=w.K2), lead_unit=w.K1D)  # found in K2, led by K1D
        make_item(w, problem=make_problem(w, unit=w.K3), lead_unit=w.K3, owner=w.carol)  # carol owns it only
        make_item(w, problem=make_problem(w, unit=w.K3), lead_unit=w.K3, owner=w.frank)

    def test_the_parts_are_disjoint_and_add_up_to_the_scope(self):
        w = self.w
        for user in (w.alice, w.bob, w.carol, w.dave, w.erin, w.frank):
            with self.subTest(user.username):
                parts = RectificationItem.objects.visible_parts(user)
                ids = [set(part.values_list("pk", flat=True)) for part in parts]
                union = set().union(*ids)
                self.assertEqual(sum(len(part) for part in ids), len(union))
                self.assertEqual(union, set(RectificationItem.objects.visible_to(user).values_list("pk", flat=True)))
                self.assertEqual(count_over_parts(parts, n=Count("pk"))["n"], len(union))

    def test_carol_sees_what_her_department_leads_and_what_she_owns(self):
        # K1D leads the items of K1 and K2; the K3 item is hers to carry out; frank's is not.
        self.assertEqual(RectificationItem.objects.visible_to(self.w.carol).count(), 3)

    def test_the_home_page_counts_the_whole_scope(self):
        self.client.force_login(self.w.erin)
        self.assertEqual(self.client.get(reverse("home")).context["scope_counts"]["open"], 4)


class CachedChoicesTestCase(TestCase):
    """The choice lists come from the cache; any change to the rows behind them is seen on the
    next request, because the database changes the stamp the cache key holds."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.item = make_item(self.w)
        self.client.force_login(self.w.bob)

    def ledger(self):
        return self.client.get(reverse("ledger")).content.decode()

    def item_page(self):
        return self.client.get(self.item.get_absolute_url()).content.decode()

    def test_a_renamed_unit_is_shown_on_the_next_request(self):
        self.assertIn("资阳区", self.ledger())
        self.w.K2.name = "资阳区（新）"
        self.w.K2.save()  # as the admin saves it
        page = self.ledger()
        self.assertIn("资阳区（新）", page)
        self.assertIn("资阳区（新）", self.item_page())  # the lead-unit form's options too

    def test_a_new_unit_and_a_new_owner_are_offered_on_the_next_request(self):
        self.assertNotIn("桃江县", self.item_page())
        county = create_unit(code="430922", name="桃江县", parent=self.w.C1, level=Unit.Level.COUNTY)
        self.assertIn("桃江县", self.item_page())
        newcomer = make_user("gina", county, last_name="龚", first_name="娜")
        self.assertNotIn("龚娜", self.item_page())  # not an owner yet: not offered
        grant(newcomer, Role.OWNER)  # only a row in the user-groups table changes
        self.assertIn("龚娜（桃江县）", self.item_page())
        self.assertIn("龚娜（桃江县）", self.ledger())

    def test_a_renamed_service_item_is_offered_on_the_next_request(self):
        # On SQLite 0010_ui rebuilds the service item table, which drops its triggers; it makes them again.
        self.assertIn(self.w.birth.name, self.ledger())
        self.w.birth.name = "出生一件事（新）"
        self.w.birth.save()
        self.assertIn("出生一件事（新）", self.ledger())

    def test_a_deactivated_unit_is_no_longer_offered_as_lead_unit(self):
        self.assertIn(f'<option value="{self.w.K2.pk}">资阳区</option>', self.item_page())
        Unit.objects.filter(pk=self.w.K2.pk).update(is_active=False)  # even a bulk UPDATE is seen
        self.assertNotIn(f'<option value="{self.w.K2.pk}">资阳区</option>', self.item_page())

    def test_the_cached_reassign_form_still_refuses_an_owner_outside_the_scope(self):
        response = self.client.post(reverse("item_action", args=[self.item.pk, "reassign"]),
                                    {"reassign-version": self.item.version, "reassign-owner": self.w.frank.pk})
        self.assertEqual(response.status_code, 400)
        self.item.refresh_from_db()
        self.assertEqual(self.item.owner, self.w.carol)

    def test_the_cached_selects_are_required_like_plain_ones(self):
        page = self.item_page()
        self.assertIn('<select name="reassign-owner" id="id_reassign-owner" required>', page)
        self.assertIn('<select name="lead-unit-lead_unit" id="id_lead-unit-lead_unit" required>', page)

    def test_the_selected_filter_value_is_marked(self):
        page = self.client.get(reverse("ledger"), {"unit": self.w.K1.pk}).content.decode()
        self.assertIn(f'<option value="{self.w.K1.pk}" selected>', page)


class ThroughputPhaseTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_it_reads_requests_per_second_and_errors_from_wrk(self):
        from ledgers.bench_throughput import parse_wrk

        report = """Running 15s test @ http://127.0.0.1:8056/ledger/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    38.91ms    9.02ms  97.18ms   71.00%
  1541 requests in 15.01s, 92.38MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    102.67
Transfer/sec:      6.15MB
"""
        self.assertEqual(parse_wrk(report), (102.67, 3))
        self.assertEqual(parse_wrk("Requests/sec:   1007.10\n"), (1007.1, 0))

    def test_it_measures_the_pages_the_issue_names(self):
        from ledgers.bench_throughput import pages

        bench = SimpleNamespace(supervisor=self.w.bob, office=self.w.erin,
                                ledger_filter=lambda: {"status": "in_progress", "unit": self.w.C1.pk})
        make_item(self.w, status=RectificationItem.Status.IN_PROGRESS)
        self.w.bob.is_staff = True  # as the bench's supervisor, who also opens the admin
        self.w.bob.save()
        grant(self.w.bob, Role.ADMIN)
        named = pages(bench)
        self.assertEqual([name for name, _user, _path in named],
                         ["ceiling", "ledger", "ledger_plain", "item", "home", "dashboard", "admin"])
        for name, user, path in named[1:]:
            self.client.force_login(user)
            with self.subTest(name):
                self.assertEqual(self.client.get(path).status_code, 200)


class SignedInUserTestCase(TestCase):
    """The signed-in user's roles and unit are kept per process under the "choices" stamp
    (ledgers/roles.py UserBackend): a change to them counts from the next request."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.client.force_login(self.w.carol)  # an owner in the county's department

    def test_the_unread_count_is_read_with_the_user_and_current_on_every_request(self):
        def badge():
            page = self.client.get(reverse("home")).content.decode()
            return page.count('class="badge"'), page.count('aria-label="2 条未读">2</span>')

        self.assertEqual(badge(), (0, 0))
        for n in range(2):
            Notification.objects.create(recipient=self.w.carol, message=f"提醒{n}")
        Notification.objects.create(recipient=self.w.bob, message="别人的提醒")
        with self.assertNumQueries(4):  # session, the user with the count, the stamps, her open items
            self.assertEqual(badge(), (1, 1))
        Notification.objects.filter(recipient=self.w.carol).update(read_at=timezone.now())
        self.assertEqual(badge(), (0, 0))

    def test_a_granted_or_removed_role_counts_on_the_next_request(self):
        self.assertEqual(self.client.get(reverse("ledger")).status_code, 200)
        self.assertEqual(self.client.get(reverse("reports")).status_code, 403)
        grant(self.w.carol, Role.OFFICE)
        self.assertEqual(self.client.get(reverse("reports")).status_code, 200)
        self.w.carol.groups.remove(*self.w.carol.groups.filter(name=Role.OFFICE))
        self.assertEqual(self.client.get(reverse("reports")).status_code, 403)
        self.w.carol.groups.clear()
        self.assertEqual(self.client.get(reverse("ledger")).status_code, 403)

    def test_a_user_moved_to_another_unit_sees_the_new_scope_on_the_next_request(self):
        item = make_item(self.w, problem=make_problem(self.w, unit=self.w.K3), lead_unit=self.w.K3,
                         owner=self.w.frank)
        self.assertEqual(self.client.get(item.get_absolute_url()).status_code, 404)
        User = type(self.w.carol)
        User.objects.filter(pk=self.w.carol.pk).update(unit=self.w.C2)  # as a bulk import writes it
        page = self.client.get(item.get_absolute_url())
        self.assertEqual(page.status_code, 200)
        self.assertContains(page, '<span class="user">陈卡 · 湘西州</span>', html=False)  # the header

    def test_a_renamed_unit_is_named_in_the_header_on_the_next_request(self):
        self.assertContains(self.client.get(reverse("ledger")), '<span class="user">陈卡 · 赫山区行政审批服务局</span>')
        Unit.objects.filter(pk=self.w.K1D.pk).update(name="赫山区政务服务中心")
        self.assertContains(self.client.get(reverse("ledger")), '<span class="user">陈卡 · 赫山区政务服务中心</span>')

    def test_a_deactivated_or_demoted_account_is_refused_at_once(self):
        self.assertEqual(self.client.get(reverse("ledger")).status_code, 200)
        type(self.w.carol).objects.filter(pk=self.w.carol.pk).update(is_active=False)
        self.assertRedirects(self.client.get(reverse("ledger")), reverse("login") + "?next=" + reverse("ledger"),
                             fetch_redirect_response=False)

    def test_superuser_status_is_read_with_the_user_each_request(self):
        # carol, an owner, may not read reports; as a superuser she holds the admin role, which may.
        User = type(self.w.carol)
        self.assertEqual(self.client.get(reverse("reports")).status_code, 403)
        User.objects.filter(pk=self.w.carol.pk).update(is_superuser=True)  # no stamp: not a watched column
        self.assertEqual(self.client.get(reverse("reports")).status_code, 200)
        User.objects.filter(pk=self.w.carol.pk).update(is_superuser=False)
        self.assertEqual(self.client.get(reverse("reports")).status_code, 403)


class CalendarOnPagesTestCase(TestCase):
    """The calendar's overrides are kept per process under the "choices" stamp: an override
    entered in the admin changes the cards on the next request."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_an_override_changes_the_days_overdue_on_the_next_request(self):
        today = timezone.localdate()
        deadline = today - datetime.timedelta(days=1)
        while deadline.weekday() >= 5:
            deadline -= datetime.timedelta(days=1)
        item = make_item(self.w, deadline=deadline, opened_on=deadline - datetime.timedelta(days=30))
        self.client.force_login(self.w.bob)
        before = self.client.get(item.get_absolute_url()).context["days_overdue"]
        # Every day between the deadline and today declared a working day: more days overdue.
        from ledgers.models import CalendarOverride

        day = deadline + datetime.timedelta(days=1)
        while day <= today:
            CalendarOverride.objects.update_or_create(date=day, defaults={"is_workday": True, "source": "测试"})
            day += datetime.timedelta(days=1)
        after = self.client.get(item.get_absolute_url()).context["days_overdue"]
        self.assertEqual(after, (today - deadline).days)
        CalendarOverride.objects.filter(date__gt=deadline).update(is_workday=False)
        self.assertEqual(self.client.get(item.get_absolute_url()).context["days_overdue"], 0)
        self.assertLessEqual(before, after)


class StampsWithinARequestTestCase(TestCase):
    """A request reads the stamps once; inside a transaction it opens later it reads them again,
    so what it builds from its own uncommitted writes is never kept under the committed stamp."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_lists_built_inside_a_rolled_back_transaction_are_not_kept_under_the_committed_stamp(self):
        from django.db import transaction

        from ledgers import choices, stamps

        token = stamps._request_stamps.set({})  # as the middleware does for a request
        try:
            before = stamps.current("choices")
            with self.assertNumQueries(0):
                self.assertEqual(stamps.current("choices"), before)  # read once per request
            try:
                with transaction.atomic():
                    create_unit(code="430923", name="安化县", parent=self.w.C1, level=Unit.Level.COUNTY)
                    inside = stamps.current("choices")
                    self.assertNotEqual(inside, before)
                    bob = type(self.w.bob).objects.get(pk=self.w.bob.pk)
                    self.assertIn("安化县", choices.for_user(bob)["html"]["units"])
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            self.assertEqual(stamps.current("choices"), before)
            bob = type(self.w.bob).objects.get(pk=self.w.bob.pk)
            self.assertNotIn("安化县", choices.for_user(bob)["html"]["units"])
        finally:
            stamps._request_stamps.reset(token)


class ItemRecordTestCase(TestCase):
    """The item page keeps its rendered record under the item's record stamp, which the database
    draws anew (migration 0015) with every change to what the record shows, however it is written:
    each change below is seen on the next request, and a repeated view reads no more than the row."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        w = self.w
        self.walk = make_walk(w)
        self.problem = make_problem(w, walk=self.walk)
        self.item = make_item(w, problem=self.problem, status=RectificationItem.Status.IN_PROGRESS)
        self.client.force_login(w.bob)
        self.assertNotIn("标记文字", self.page())  # the record is now in the cache

    def page(self, user=None):
        """The record part of the item page (the forms around it carry a fresh CSRF token)."""
        if user is not None:
            self.client.force_login(user)
        response = self.client.get(self.item.get_absolute_url())
        self.assertEqual(response.status_code, 200)
        page = response.content.decode()
        return page[page.index('<div class="item-main">'):]

    def stamp(self):
        return RectificationItem.objects.values_list("record_stamp", flat=True).get(pk=self.item.pk)

    def test_a_repeated_view_is_served_from_the_cache(self):
        first = self.page()
        with self.assertNumQueries(4):  # session, user with the unread count, stamps, the item's row
            self.assertEqual(self.page(), first)

    def test_the_items_own_row_written_by_save_or_update(self):
        item = RectificationItem.objects.get(pk=self.item.pk)
        item.measure = "标记文字：save()"
        item.save()
        self.assertIn("标记文字：save()", self.page())
        RectificationItem.objects.filter(pk=item.pk).update(measure="标记文字：update()")
        self.assertIn("标记文字：update()", self.page())

    def test_the_kept_blank_forms_follow_the_item(self):
        def deadline_form():
            page = self.client.get(self.item.get_absolute_url()).content.decode()
            return page[page.index('id="action-deadline"'):page.index('id="action-reassign"')]

        later = self.item.deadline + datetime.timedelta(days=30)
        self.assertIn(f'value="{self.item.deadline:%Y-%m-%d}"', deadline_form())
        services.set_deadline(self.w.bob, self.item.pk, deadline=later, note="延后")
        form = deadline_form()
        self.assertIn(f'value="{later:%Y-%m-%d}"', form)
        self.assertIn('name="deadline-version" value="2"', form)

    def test_a_model_save_with_the_stamp_it_read_still_draws_a_new_one(self):
        stale = RectificationItem.objects.get(pk=self.item.pk)
        RectificationItem.objects.filter(pk=stale.pk).update(measure="标记文字：先改")
        before = self.stamp()
        stale.measure = "标记文字：后改"
        stale.save()  # sends the stamp it read before the first change
        self.assertNotIn(self.stamp(), (before, stale.record_stamp))
        self.assertIn("标记文字：后改", self.page())

    def test_the_problem_and_the_walk(self):
        Problem.objects.filter(pk=self.problem.pk).update(description="标记文字：问题描述")
        self.assertIn("标记文字：问题描述", self.page())
        WalkSession.objects.filter(pk=self.walk.pk).update(way=WalkSession.Way.ONLINE)
        self.assertIn(str(WalkSession.Way.ONLINE.label), self.page())

    def test_journal_closures_and_extensions(self):
        w = self.w
        services.add_progress(w.carol, self.item.pk, note="标记文字：进展")
        self.assertIn("标记文字：进展", self.page())
        services.request_extension(w.carol, self.item.pk, new_deadline=self.item.deadline + datetime.timedelta(days=9),
                                   reason="标记文字：延期理由")
        self.assertIn("标记文字：延期理由", self.page())
        # The pending request is kept with the record: the action to decide it is offered.
        self.assertIn('id="action-decide-extension"', self.client.get(self.item.get_absolute_url()).content.decode())
        services.request_closure(w.carol, self.item.pk, evidence="标记文字：销号材料")
        self.assertIn("标记文字：销号材料", self.page())
        self.assertIn('id="action-approve"', self.client.get(self.item.get_absolute_url()).content.decode())
        services.decide_extension(w.bob, self.item.pk, approve=False, note="标记文字：不同意延期")
        self.assertIn("标记文字：不同意延期", self.page())
        self.assertNotIn("申请延期至", self.page())  # the pending request's warning is gone

    def test_cooperating_units(self):
        self.item.cooperating_units.add(self.w.K2)
        self.assertIn(self.w.K2.name, self.page())
        self.item.cooperating_units.remove(self.w.K2)
        self.assertNotIn(self.w.K2.name, self.page())

    def test_files_of_the_walk_the_problem_the_item_and_its_closure(self):
        w = self.w

        def attach(name, **owner):
            return Attachment.objects.create(unit=w.K1, original_name=name, content_type="application/pdf",
                                             size=3, kind=Attachment.Kind.DOCUMENT, file=f"attachments/{name}",
                                             uploaded_by=w.alice, **owner)

        attach("标记文字-走流程.pdf", walk=self.walk)
        self.assertIn("标记文字-走流程.pdf", self.page())
        attach("标记文字-问题.pdf", problem=self.problem)
        self.assertIn("标记文字-问题.pdf", self.page())
        services.request_closure(w.carol, self.item.pk, evidence="已整改")
        closure = ClosureRecord.objects.get(item=self.item)
        attach("标记文字-销号.pdf", item=self.item, closure=closure)
        self.assertIn("标记文字-销号.pdf", self.page())
        Attachment.objects.filter(original_name="标记文字-问题.pdf").update(original_name="标记文字-改名.pdf")
        self.assertIn("标记文字-改名.pdf", self.page())

    def test_names_of_people_and_units(self):
        User.objects.filter(pk=self.w.carol.pk).update(first_name="标记文字")
        self.assertIn("标记文字", self.page())
        Unit.objects.filter(pk=self.w.K1D.pk).update(name="标记文字局")
        self.assertIn("标记文字局", self.page())

    def test_each_viewer_has_their_own_record(self):
        w = self.w
        # A file of the walk kept by the county: bob (the city above) sees it; carol, who owns the
        # item from a department below the county, sees the item but not the county's own files.
        Attachment.objects.create(unit=w.K1, walk=self.walk, original_name="标记文字-县里.pdf", size=3,
                                  content_type="application/pdf", kind=Attachment.Kind.DOCUMENT,
                                  file="attachments/k.pdf", uploaded_by=w.alice)
        self.assertIn("标记文字-县里.pdf", self.page())
        self.assertNotIn("标记文字-县里.pdf", self.page(w.carol))
        self.assertIn("标记文字-县里.pdf", self.page(w.bob))


class CachedCountsTestCase(TestCase):
    """The counts of the ledger as it opens and of the home page are kept under the "figures" and
    "choices" stamps and the day: any change to what they count is seen on the next request."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.item = make_item(self.w, status=RectificationItem.Status.IN_PROGRESS)
        self.client.force_login(self.w.bob)

    def counts(self):
        as_if_committed()
        ledger = self.client.get(reverse("ledger")).context["counts"]
        home = self.client.get(reverse("home")).context["scope_counts"]
        return {"total": ledger["total"], "red": ledger["red"], "in_progress": ledger["status_in_progress"],
                "home_open": home["open"], "home_red": home["red"]}

    def test_a_new_item_a_new_deadline_and_a_closure_are_counted_on_the_next_request(self):
        w = self.w
        self.assertEqual(self.counts(), {"total": 1, "red": 0, "in_progress": 1, "home_open": 1, "home_red": 0})
        make_item(w, problem=make_problem(w, unit=w.K2))
        self.assertEqual(self.counts(), {"total": 2, "red": 0, "in_progress": 1, "home_open": 2, "home_red": 0})
        RectificationItem.objects.filter(pk=self.item.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=3))
        self.assertEqual(self.counts(), {"total": 2, "red": 1, "in_progress": 1, "home_open": 2, "home_red": 1})
        RectificationItem.objects.filter(pk=self.item.pk).update(status=RectificationItem.Status.CLOSED,
                                                                  closed_at=timezone.now())
        self.assertEqual(self.counts(), {"total": 2, "red": 0, "in_progress": 0, "home_open": 1, "home_red": 0})

    def test_a_unit_moved_out_of_the_scope_takes_its_items_along(self):
        self.assertEqual(self.counts()["total"], 1)
        move_unit(self.w.K1, self.w.C2)  # the item's county (and the department leading it) to another city
        self.assertEqual(self.counts(), {"total": 0, "red": 0, "in_progress": 0, "home_open": 0, "home_red": 0})

    def test_the_next_day_counts_again(self):
        today = timezone.localdate()
        RectificationItem.objects.filter(pk=self.item.pk).update(deadline=today)
        # Twenty minutes apart, well inside the cache's hour: only the day in the key tells them apart.
        evening = timezone.make_aware(datetime.datetime.combine(today, datetime.time(23, 50)))
        for now, red in ((evening, 0), (evening + datetime.timedelta(minutes=20), 1)):
            with time_machine.travel(now, tick=False):
                self.client.force_login(self.w.bob)
                counts = self.counts()
                self.assertEqual((counts["red"], counts["home_red"]), (red, red))


class KeptLedgerRowsTestCase(TestCase):
    """Each ledger row's markup is kept under its item's record stamp, the "choices" stamp and the
    day: a change to the item, its problem, a name or the date is seen on the next request."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.problem = make_problem(self.w)
        self.item = make_item(self.w, problem=self.problem, status=RectificationItem.Status.IN_PROGRESS)
        self.client.force_login(self.w.bob)

    def row(self):
        as_if_committed()
        page = self.client.get(reverse("ledger")).content.decode()
        start = page.index(f'<input type="checkbox" name="items" value="{self.item.pk}"')
        return page[start:page.index("</tr>", start)]

    def test_the_item_its_problem_and_names(self):
        self.assertIn("整改中", self.row())
        Problem.objects.filter(pk=self.problem.pk).update(description="标记文字：新的描述")
        self.assertIn("标记文字：新的描述", self.row())
        RectificationItem.objects.filter(pk=self.item.pk).update(measure="标记文字：新的措施")
        self.assertIn("标记文字：新的措施", self.row())
        User.objects.filter(pk=self.w.carol.pk).update(first_name="标记文字")
        self.assertIn("陈标记文字", self.row())
        Unit.objects.filter(pk=self.w.K1D.pk).update(name="标记文字局")
        self.assertIn("标记文字局", self.row())

    def test_the_card_turns_red_the_next_day(self):
        today = timezone.localdate()
        RectificationItem.objects.filter(pk=self.item.pk).update(deadline=today)
        evening = timezone.make_aware(datetime.datetime.combine(today, datetime.time(23, 50)))
        for now, mark in ((evening, "mark-yellow"), (evening + datetime.timedelta(minutes=20), "mark-red")):
            with time_machine.travel(now, tick=False):
                self.client.force_login(self.w.bob)
                self.assertIn(mark, self.row())
