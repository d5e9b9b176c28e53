"""Performance round 2 (issue 10): the copied unit paths stay right whatever writes the rows, the
disjoint parts of a scope add up to the scope, and a cached choice list changes on the next request
after an edit."""

import datetime
from types import SimpleNamespace

from django.db.models import Count
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from ledgers import services
from ledgers.models import RectificationItem, Role, Unit, count_over_parts
from ledgers.roles import grant
from ledgers.units import create_unit, move_unit

from .world import build_world, make_item, make_problem, make_user


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
