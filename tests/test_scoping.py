
from django.test import TestCase
from django.urls import reverse

from ledgers.models import Attachment, Problem, RectificationItem, Unit, User, WalkSession
from tests.world import build_world, make_item, make_problem, make_walk


class ScopingTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        w = cls.w
        cls.k1_item = make_item(w)
        cls.k2_item = make_item(w, problem=make_problem(w, unit=w.K2), lead_unit=w.K2, owner=w.dave)
        cls.k3_item = make_item(w, problem=make_problem(w, unit=w.K3), lead_unit=w.K3, owner=w.frank)

    def test_it_gives_a_county_its_subtree_only(self):
        w = self.w
        visible = set(RectificationItem.objects.visible_to(w.dave))
        self.assertEqual(visible, {self.k2_item})

    def test_it_gives_a_city_all_its_counties(self):
        w = self.w
        self.assertEqual(set(RectificationItem.objects.visible_to(w.bob)), {self.k1_item, self.k2_item})

    def test_it_gives_the_province_everything(self):
        self.assertEqual(RectificationItem.objects.visible_to(self.w.erin).count(), 3)

    def test_it_shows_a_department_the_items_it_leads(self):
        # carol's unit K1D is the lead unit of k1_item, and she owns it
        self.assertEqual(set(RectificationItem.objects.visible_to(self.w.carol)), {self.k1_item})

    def test_it_shows_nothing_to_a_user_without_unit(self):
        nobody = User.objects.create_user("nobody", password="x")
        self.assertFalse(RectificationItem.objects.visible_to(nobody).exists())
        self.assertFalse(Problem.objects.visible_to(nobody).exists())

    def test_unit_subtree_is_one_prefix_query(self):
        w = self.w
        with self.assertNumQueries(1):
            names = set(Unit.objects.subtree(w.C1).values_list("name", flat=True))
        self.assertEqual(names, {"益阳市", "赫山区", "资阳区", "赫山区行政审批服务局"})

    def test_walks_and_users_are_scoped(self):
        w = self.w
        walk = make_walk(w)
        self.assertIn(walk, WalkSession.objects.visible_to(w.bob))
        self.assertNotIn(walk, WalkSession.objects.visible_to(w.dave))
        self.assertNotIn(w.alice, User.objects.visible_to(w.dave))
        self.assertIn(w.alice, User.objects.visible_to(w.bob))

    def test_it_answers_404_for_a_sibling_attachment(self):
        w = self.w
        from django.core.files.base import ContentFile

        photo = Attachment(unit=w.K1, original_name="a.png", content_type="image/png", size=3,
                           uploaded_by=w.alice)
        photo.file.save("a.png", ContentFile(b"png"), save=True)
        self.client.force_login(w.dave)
        self.assertEqual(self.client.get(reverse("attachment", args=[photo.pk])).status_code, 404)
        self.client.force_login(w.bob)
        response = self.client.get(reverse("attachment", args=[photo.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(b"".join(response.streaming_content), b"png")


class ItemScopeRulesTestCase(TestCase):
    def test_it_sees_items_by_unit_lead_unit_or_ownership(self):
        w = build_world()
        own_unit = make_item(w)  # unit K1, led by K1D, owned by carol
        led_from_k2 = make_item(w, lead_unit=w.K2, problem=make_problem(w, unit=w.K3), owner=w.frank)
        owned_by_dave = make_item(w, owner=w.dave, problem=make_problem(w, unit=w.K3), lead_unit=w.K3)
        in_k3 = make_item(w, owner=w.frank, lead_unit=w.K3, problem=make_problem(w, unit=w.K3))
        nobody = User.objects.create_user("nobody", password="x")
        owned_by_nobody = make_item(w, owner=nobody)
        expected = {
            w.alice: {own_unit, owned_by_nobody},
            w.bob: {own_unit, led_from_k2, owned_by_nobody},
            w.carol: {own_unit, owned_by_nobody},
            w.dave: {led_from_k2, owned_by_dave},
            w.erin: {own_unit, led_from_k2, owned_by_dave, in_k3, owned_by_nobody},
            w.frank: {led_from_k2, owned_by_dave, in_k3},
            nobody: {owned_by_nobody},
        }
        for user, items in expected.items():
            with self.subTest(user.username):
                self.assertEqual(set(RectificationItem.objects.visible_to(user)), items)

    def test_an_owner_in_a_department_sees_the_files_of_the_item_it_leads(self):
        from django.core.files.base import ContentFile

        w = build_world()
        item = make_item(w)  # found in K1, led by carol's K1D
        other = make_item(w, problem=make_problem(w, unit=w.K2), lead_unit=w.K2, owner=w.dave)

        def attach(unit, **links):
            row = Attachment(unit=unit, original_name="p.png", content_type="image/png", size=3,
                             uploaded_by=w.alice, **links)
            row.file.save("p.png", ContentFile(b"png"), save=True)
            return row

        evidence = attach(w.K1, item=item)
        problem_photo = attach(w.K1, problem=item.problem)
        walk_photo = attach(w.K1)  # a photo of the walk itself, not of carol's problem
        sibling = attach(w.K2, item=other)
        self.assertEqual(set(Attachment.objects.visible_to(w.carol)), {evidence, problem_photo})
        self.assertEqual(set(Attachment.objects.visible_to(w.alice)), {evidence, problem_photo, walk_photo})
        self.assertEqual(set(Attachment.objects.visible_to(w.dave)), {sibling})
