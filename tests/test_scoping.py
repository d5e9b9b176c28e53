import datetime

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
