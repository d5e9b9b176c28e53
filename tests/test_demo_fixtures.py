"""The demo province ships as a fixture with natural keys (fixtures/demo_province.json), follows the
2022 practices document, and lets a county leader walk the province's common catalogue."""

import json
from io import StringIO

from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.urls import reverse

from ledgers.demo import DEMO_PASSWORD, FIXTURE
from ledgers.models import Campaign, ServiceItem, SubCategory, Unit, User, WalkSession


class FixtureTestCase(TestCase):
    def test_it_loads_into_an_empty_database_and_again_without_change(self):
        self.assertFalse(Unit.objects.exists())
        self.assertFalse(Group.objects.exists())
        call_command("loaddata", str(FIXTURE), verbosity=0)
        rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
        self.assertTrue(all("pk" not in row for row in rows))  # natural keys only
        counts = {model: sum(row["model"] == model for row in rows) for model in {row["model"] for row in rows}}
        self.assertEqual(Unit.objects.count(), counts["ledgers.unit"])
        self.assertEqual(User.objects.count(), counts["ledgers.user"])
        self.assertEqual(ServiceItem.objects.count(), counts["ledgers.serviceitem"])
        self.assertEqual(SubCategory.objects.count(), counts["ledgers.subcategory"])
        self.assertEqual(Campaign.objects.get().must_walk_items.count(), 7)
        self.assertEqual(User.objects.get(username="lingdao").groups.get().name, "leader")
        before = sorted(Unit.objects.values_list("pk", "code", "path"))
        call_command("loaddata", str(FIXTURE), verbosity=0)
        self.assertEqual(sorted(Unit.objects.values_list("pk", "code", "path")), before)
        # The paths in the fixture are the ones the tree would give: each unit's parent path plus a step.
        for unit in Unit.objects.select_related("parent"):
            if unit.parent:
                self.assertTrue(unit.path.startswith(unit.parent.path), unit.code)
                self.assertEqual(unit.depth, unit.parent.depth + 1, unit.code)


class DemoFollowsTheDocumentTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("load_demo", stdout=StringIO())

    def test_the_people_and_posts_are_the_document_s(self):
        seed = "县长梁元和 市长符家盛 局党组书记秦继红 局长刘明权 市长陈爱林 市政协主席向洪琼"
        for username, unit_name in [("lingdao", "芷江侗族自治县"), ("lingdao_js", "吉首市"), ("lingdao_yj", "湖南省药品监督管理局"),
                                    ("lingdao_sw", "国家税务总局湖南省税务局"), ("lingdao_yz", "永州市"), ("lingdao_zx", "吉首市")]:
            user = User.objects.select_related("unit").get(username=username)
            self.assertIn(f"{user.title}{user.display_name}", seed, username)
            self.assertEqual(user.unit.name, unit_name, username)
        self.assertFalse(Unit.objects.filter(name="赫山区").exists())

    def test_a_county_leader_finds_the_common_catalogue_and_his_own_walk(self):
        self.client.login(username="lingdao", password=DEMO_PASSWORD)
        found = self.client.get(reverse("walk_service_items"), {"q": "取水"}).json()["items"]
        self.assertEqual([(item["name"], item["unit"]) for item in found], [("取水许可审批", "县市区事项目录")])
        # A province department's own items stay with its branch.
        self.assertEqual(self.client.get(reverse("walk_service_items"), {"q": "药品"}).json()["items"], [])
        mine = self.client.get(reverse("walk_mine"))
        walk = WalkSession.objects.get(leader__username="lingdao")
        self.assertContains(mine, walk.get_absolute_url())
        self.assertContains(mine, "出生上户")

    def test_every_leader_sees_their_own_walks_and_can_open_them(self):
        for walk in WalkSession.objects.select_related("leader"):
            self.client.force_login(walk.leader)
            self.assertContains(self.client.get(reverse("walk_mine")), walk.get_absolute_url(), msg_prefix=str(walk))
            self.assertEqual(self.client.get(walk.get_absolute_url()).status_code, 200, str(walk))

    def test_a_catalogue_item_is_shared_within_the_province_only(self):
        other = Unit.objects.create(code="450000", name="广西壮族自治区", level=Unit.Level.PROVINCE, path="0999.")
        stranger = User.objects.create_user("stranger", unit=other)
        self.assertFalse(ServiceItem.objects.visible_to(stranger).exists())
        owner = User.objects.get(username="zeren_sl")  # a county department
        names = set(ServiceItem.objects.visible_to(owner).values_list("name", flat=True))
        self.assertIn("取水许可审批", names)
        self.assertIn("工程建设项目审批", names)  # the city-level catalogue too
        self.assertNotIn("增值税留抵退税", names)


class EarlierDemoTestCase(TestCase):
    def test_a_database_with_another_tree_at_the_fixture_s_paths_is_refused_untouched(self):
        Unit.objects.create(code="430999", name="赫山区", level=Unit.Level.COUNTY, path="0001.0004.")
        with self.assertRaisesMessage(CommandError, "make clean-db"):
            call_command("load_demo", stdout=StringIO())
        self.assertEqual(list(Unit.objects.values_list("code", flat=True)), ["430999"])
