from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledgers.models import Notification
from tests.world import build_world, make_item, make_walk


class CorePagesTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def count(self, user, url):
        self.client.force_login(user)
        self.client.get(url)  # the session renews itself on the first request
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return len(queries)

    def test_home_does_not_grow_with_items_or_walks(self):
        w = self.w
        make_item(w, owner=w.alice)
        make_walk(w)
        few = self.count(w.alice, reverse("home"))
        for _ in range(6):
            make_item(w, owner=w.alice)
            make_walk(w)
        self.assertEqual(self.count(w.alice, reverse("home")), few)

    def test_notifications_do_not_grow_with_the_list(self):
        w = self.w
        item = make_item(w)
        Notification.objects.create(recipient=w.bob, item=item, message="整改措施已分配")
        few = self.count(w.bob, reverse("notifications"))
        Notification.objects.bulk_create(
            [Notification(recipient=w.bob, item=make_item(w), message=f"消息{n}") for n in range(10)])
        self.assertEqual(self.count(w.bob, reverse("notifications")), few)

    def test_opening_a_notification_marks_it_read_and_follows_its_link(self):
        w = self.w
        item = make_item(w)
        note = Notification.objects.create(recipient=w.bob, item=item, message="申请销号", url=item.get_absolute_url())
        self.client.force_login(w.bob)
        response = self.client.get(reverse("notification_open", args=[note.pk]))
        self.assertRedirects(response, item.get_absolute_url(), fetch_redirect_response=False)
        note.refresh_from_db()
        self.assertIsNotNone(note.read_at)

    def test_a_notification_never_redirects_off_site(self):
        w = self.w
        note = Notification.objects.create(recipient=w.bob, message="外部链接", url="https://evil.example/")
        self.client.force_login(w.bob)
        response = self.client.get(reverse("notification_open", args=[note.pk]))
        self.assertEqual(response["Location"], reverse("notifications"))
