"""The leaders' pages: the logging page, a walk's page, "my walk-throughs", the type-ahead and the
service worker; scope on each, and no N+1 on the list."""

import datetime
import gzip
import json
import re

from django.contrib.staticfiles import finders
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from ledgers.models import Attachment, ServiceItem, SubCategory
from tests.world import build_world, make_item, make_problem, make_walk

PAGE_BUDGET_BYTES = 200 * 1024


class LoggingPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        SubCategory.objects.create(category="process", name="办理流程有待优化")

    def test_it_shows_the_page_to_leaders_only(self):
        w = self.w
        self.client.force_login(w.alice)
        self.assertEqual(self.client.get(reverse("walk_new")).status_code, 200)
        for user in (w.bob, w.carol, w.erin):
            self.client.force_login(user)
            self.assertEqual(self.client.get(reverse("walk_new")).status_code, 403, user)

    def test_it_offers_only_units_owners_and_items_in_scope(self):
        w = self.w
        self.client.force_login(w.alice)
        response = self.client.get(reverse("walk_new"))
        html = response.content.decode()
        self.assertIn(w.K1D.name, html)
        self.assertNotIn(w.K2.name, html)  # a sibling county
        self.assertIn("陈卡", html)          # carol, owner at K1D
        self.assertNotIn("邓大卫", html)      # dave, owner at K2
        data = json.loads(re.search(r'id="walk-data"[^>]*>(.*?)</script>', html).group(1))
        self.assertEqual(data["mustWalk"][str(w.campaign.pk)],
                         [{"id": w.birth.pk, "name": w.birth.name, "unit": "赫山区", "must": True}])
        self.assertEqual(data["subcategories"][0]["name"], "办理流程有待优化")

    def test_it_has_the_four_category_chips_and_a_camera_input(self):
        self.client.force_login(self.w.alice)
        html = self.client.get(reverse("walk_new")).content.decode()
        for label in ("系统技术", "业务流程", "协调联动", "窗口建设"):
            self.assertIn(f"<span>{label}</span>", html)
        self.assertIn('accept="image/*" capture="environment"', html)

    def test_it_sets_the_csrf_cookie_and_keeps_the_page_out_of_shared_caches(self):
        self.client.force_login(self.w.alice)
        response = self.client.get(reverse("walk_new"))
        self.assertIn("csrftoken", response.cookies)
        self.assertIn("private", response["Cache-Control"])

    def test_it_stays_within_the_weight_budget(self):
        # Everything the page loads, gzip-compressed as a server would send it.
        self.client.force_login(self.w.alice)
        html = self.client.get(reverse("walk_new")).content
        total = len(gzip.compress(html))
        assets = re.findall(rb'(?:href|src)="/static/([^"]+)"', html)
        self.assertGreaterEqual(len(assets), 5)
        for name in assets:
            with open(finders.find(name.decode()), "rb") as handle:
                total += len(gzip.compress(handle.read()))
        self.assertLess(total, PAGE_BUDGET_BYTES)

    def test_it_links_the_page_in_the_navigation_for_leaders(self):
        w = self.w
        self.client.force_login(w.alice)
        self.assertContains(self.client.get(reverse("home")), f'href="{reverse("walk_new")}"')
        self.client.force_login(w.bob)
        self.assertNotContains(self.client.get(reverse("home")), f'href="{reverse("walk_new")}"')


class TypeaheadTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.provincial = ServiceItem.objects.create(name="出生医学证明办理", competent_unit=cls.w.P)

    def search(self, user, q="", campaign=None):
        self.client.force_login(user)
        params = {"q": q, "campaign": campaign or self.w.campaign.pk}
        return self.client.get(reverse("walk_service_items"), params).json()["items"]

    def test_it_lists_must_walk_items_first_and_items_from_above(self):
        names = [item["name"] for item in self.search(self.w.alice, "出生")]
        self.assertEqual(names, [self.w.birth.name, "出生医学证明办理"])
        self.assertTrue(self.search(self.w.alice, "出生")[0]["must"])

    def test_it_never_shows_another_branch_items(self):
        w = self.w
        self.assertEqual(self.search(w.alice, "残疾"), [])
        self.assertEqual([i["name"] for i in self.search(w.frank, "残疾")], ["残疾人证办理"])

    def test_it_is_for_leaders_only(self):
        self.client.force_login(self.w.carol)
        self.assertEqual(self.client.get(reverse("walk_service_items"), {"q": "出生"}).status_code, 403)


class WalkPagesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        cls.walk = make_walk(w, place="赫山区政务服务中心")
        cls.problem = make_problem(w, walk=cls.walk)
        cls.item = make_item(w, problem=cls.problem)
        cls.photo = Attachment.objects.create(file="attachments/x.jpg", original_name="x.jpg",
                                              content_type="image/jpeg", size=3, unit=w.K1, walk=cls.walk,
                                              problem=cls.problem, uploaded_by=w.alice)

    def test_it_shows_a_walk_with_its_problems_photos_and_items(self):
        self.client.force_login(self.w.alice)
        response = self.client.get(self.walk.get_absolute_url() + "?submitted=1")
        self.assertContains(response, "已提交")
        self.assertContains(response, "赫山区政务服务中心")
        self.assertContains(response, self.problem.description)
        self.assertContains(response, reverse("attachment", args=[self.photo.pk]))
        self.assertContains(response, f'href="{reverse("item_detail", args=[self.item.pk])}"')

    def test_it_shows_a_walk_to_the_city_above_but_not_to_a_sibling(self):
        w = self.w
        self.client.force_login(w.bob)
        self.assertEqual(self.client.get(self.walk.get_absolute_url()).status_code, 200)
        self.client.force_login(w.dave)
        self.assertEqual(self.client.get(self.walk.get_absolute_url()).status_code, 404)

    def test_it_lists_my_walks_newest_first_with_progress_in_constant_queries(self):
        w = self.w
        older = make_walk(w, started_at=timezone.now() - datetime.timedelta(days=3), place="较早")
        for _ in range(2):
            make_item(w, problem=make_problem(w, walk=older), status="in_progress")
        make_walk(w, leader=w.dave, unit=w.K2, place="别人的")
        self.client.force_login(w.alice)
        self.client.get(reverse("walk_mine"))  # warm the session
        # session, user with the header's unread count, the change stamps (the user's unit and roles
        # are kept under them), COUNT for the pager, the page with every figure aggregated: five
        # whatever the number of walks and items (the session is not written again within 5 minutes).
        with self.assertNumQueries(5):
            response = self.client.get(reverse("walk_mine"))
        walks = list(response.context["page"].object_list)
        self.assertEqual(walks, [self.walk, older])
        self.assertEqual((walks[1].n_problems, walks[1].n_in_progress, walks[0].n_open), (2, 2, 1))
        self.assertContains(response, "整改中 2")
        self.assertNotContains(response, "别人的")

    def test_it_shows_my_walks_to_leaders_only(self):
        self.client.force_login(self.w.bob)
        self.assertEqual(self.client.get(reverse("walk_mine")).status_code, 403)

    def test_the_home_page_links_to_the_walk_pages(self):
        self.client.force_login(self.w.alice)
        response = self.client.get(reverse("home"))
        self.assertContains(response, reverse("walk_mine"))


class ServiceWorkerTests(TestCase):
    def test_it_is_served_from_the_root_with_its_headers(self):
        response = self.client.get("/sw.js")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("application/javascript"))
        self.assertEqual(response["Service-Worker-Allowed"], "/")
        self.assertIn("no-cache", response["Cache-Control"])
        body = response.content.decode()
        self.assertIn('"/static/js/walk.js"', body)
        self.assertIn('const PAGE = "/walks/new/"', body)

    def test_its_version_follows_the_assets(self):
        first = self.client.get("/sw.js").content
        self.assertEqual(first, self.client.get("/sw.js").content)
        self.assertRegex(first.decode(), r'const VERSION = "[0-9a-f]{12}"')


class KeepaliveTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_it_renews_the_idle_session_of_a_signed_in_user(self):
        self.client.force_login(self.w.alice)
        response = self.client.post(reverse("walk_keepalive"))
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.cookies["sessionid"]["max-age"], 30 * 60)

    def test_it_says_401_when_the_session_is_gone(self):
        self.assertEqual(self.client.post(reverse("walk_keepalive")).status_code, 401)

    def test_it_takes_post_only(self):
        self.client.force_login(self.w.alice)
        self.assertEqual(self.client.get(reverse("walk_keepalive")).status_code, 405)
