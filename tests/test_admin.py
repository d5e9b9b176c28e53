import datetime

from django.test import TestCase
from django.urls import reverse

from ledgers.models import CalendarOverride, ItemEvent, Notification, Role
from ledgers.roles import grant
from tests.world import build_world, make_item

MODELS = ["unit", "user", "calendaroverride", "serviceitem", "campaign", "subcategory", "walksession", "problem",
          "rectificationitem", "itemevent", "closurerecord", "extensionrequest", "attachment", "notification",
          "report", "savedfilter", "reminderlog", "ledgerexport",
          "apitoken", "webhookendpoint", "webhookdelivery", "externalticket"]
MODELS += ["importbatch", "importmapping", "importkey", "activationcode"]  # ledgers/imports
MODELS += ["circularsettings", "circulardraft", "issuedcircular", "circularevent"]  # ledgers/reports/models.py
MODELS += ["changestamp"]  # the cache stamps of migration 0006_perf


class AdminTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.item = make_item(cls.w)
        cls.event = ItemEvent.record(cls.item, cls.w.carol, ItemEvent.Action.CREATED, to_status="open")
        cls.root = cls.w.erin
        cls.root.is_staff = cls.root.is_superuser = True
        cls.root.save()

    def test_every_model_of_the_app_has_an_admin(self):
        from django.apps import apps
        from django.contrib import admin

        models = set(apps.get_app_config("ledgers").get_models())
        self.assertEqual({model._meta.model_name for model in models}, set(MODELS))
        self.assertEqual([m for m in models if not admin.site.is_registered(m)], [])

    def test_it_lists_every_model_in_chinese(self):
        self.client.force_login(self.root)
        for model in MODELS:
            response = self.client.get(reverse(f"admin:ledgers_{model}_changelist"))
            self.assertEqual(response.status_code, 200, model)
            self.assertContains(response, "<html lang=\"zh-hans\"", msg_prefix=model)

    def test_it_warns_administrators_about_provisional_years(self):
        self.client.force_login(self.root)
        response = self.client.get(reverse("admin:index"))
        self.assertContains(response, "尚无国务院办公厅节假日安排数据")
        for year in range(2026, 2030):
            CalendarOverride.objects.create(date=datetime.date(year, 1, 1), is_workday=False, source="通知")
        response = self.client.get(reverse("admin:index"))
        self.assertNotContains(response, "尚无国务院办公厅节假日安排数据")

    def test_the_journal_cannot_be_changed_or_deleted(self):
        self.client.force_login(self.root)
        change = reverse("admin:ledgers_itemevent_change", args=[self.event.pk])
        delete = reverse("admin:ledgers_itemevent_delete", args=[self.event.pk])
        self.assertEqual(self.client.post(change, {"note": "改写"}).status_code, 403)
        self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 403)
        self.event.refresh_from_db()
        self.assertEqual(self.event.note, "")

    def test_a_unit_administrator_sees_only_their_subtree(self):
        w = self.w
        other = make_item(w, problem=None, lead_unit=w.K2)
        other.unit = w.K2
        other.save()
        w.dave.is_staff = True
        w.dave.save()
        grant(w.dave, Role.ADMIN)
        own_event = ItemEvent.record(other, w.dave, ItemEvent.Action.CREATED, to_status="open")
        own_note = Notification.objects.create(recipient=w.dave, message="本单位消息")
        Notification.objects.create(recipient=w.alice, message="赫山区的消息")
        self.client.force_login(w.dave)

        def listed(model):
            return list(self.client.get(reverse(f"admin:ledgers_{model}_changelist")).context["cl"].result_list)

        self.assertEqual(listed("itemevent"), [own_event])  # scoped through the event's item
        self.assertEqual(listed("notification"), [own_note])  # scoped through the recipient
        response = self.client.get(reverse("admin:ledgers_rectificationitem_changelist"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(list(response.context["cl"].result_list), [other])
        units = self.client.get(reverse("admin:ledgers_unit_changelist")).context["cl"].result_list
        self.assertEqual({unit.code for unit in units}, {w.K2.code})
        users = self.client.get(reverse("admin:ledgers_user_changelist")).context["cl"].result_list
        self.assertEqual({user.username for user in users}, {"dave"})
        sibling = self.client.get(reverse("admin:ledgers_unit_change", args=[w.K1.pk]))
        self.assertEqual(sibling.status_code, 302)  # the admin's "does not exist" answer


class StoredFilesTestCase(TestCase):
    """Files are served only by the scoped download views; nothing serves MEDIA_URL."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.root = cls.w.erin
        cls.root.is_staff = cls.root.is_superuser = True
        cls.root.save()

    def test_no_admin_form_offers_a_stored_file(self):
        from django.contrib import admin
        from django.db import models
        from django.test import RequestFactory

        request = RequestFactory().get("/admin/")
        request.user = self.root
        with_files = 0
        for model, model_admin in admin.site._registry.items():
            files = {f.name for f in model._meta.fields if isinstance(f, models.FileField)}
            if not files:
                continue
            with_files += 1
            self.assertEqual(files & set(model_admin.get_form(request).base_fields), set(), model)
            self.assertIn("stored_files", model_admin.get_readonly_fields(request), model)
        self.assertGreaterEqual(with_files, 5)  # attachments, reports, exports, imports, issued circulars

    def test_a_photo_shows_its_name_and_no_dead_link(self):
        from django.core.files.base import ContentFile

        from ledgers.models import Attachment

        photo = Attachment(unit=self.w.K1, original_name="现场.png", content_type="image/png", size=3,
                           uploaded_by=self.root)
        photo.file.save("现场.png", ContentFile(b"png"), save=True)
        self.client.force_login(self.root)
        response = self.client.get(reverse("admin:ledgers_attachment_change", args=[photo.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, photo.file.name.rsplit("/", 1)[-1])
        self.assertNotContains(response, "/media-not-served/")
