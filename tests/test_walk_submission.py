"""The walk-through submission API: idempotency by client UUID, scope, photos, one transaction,
and no 500 whatever the tablet (or anybody else) sends."""

import datetime
import io
import json
import uuid
from unittest import mock

import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase
from PIL import Image

from ledgers import walk_submission
from ledgers.models import (
    Attachment,
    ItemEvent,
    Notification,
    Problem,
    RectificationItem,
    ServiceItem,
    WalkSession,
)
from tests.world import build_world

URL = "/walks/submit/"


def png_bytes(size=(40, 30), color=(200, 30, 30)):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def valid_payload(w, **fields):
    deadline = timezone.localdate() + datetime.timedelta(days=30)
    payload = {
        "client_uuid": str(uuid.uuid4()), "campaign": w.campaign.pk, "unit": w.K1.pk,
        "service_item": w.birth.pk, "leader_rank": "top", "identity": "applicant", "way": "on_site",
        "place": "赫山区政务服务中心", "started_at": (timezone.localtime() - datetime.timedelta(hours=1))
        .strftime("%Y-%m-%dT%H:%M"),
        "ended_at": "", "companions": "区审批局局长", "companion_count": "1", "deputy_count": 0, "notes": "全程 40 分钟",
        "problems": [
            {"category": "window", "description": "自助取号机故障", "photos": ["photo-0-0"],
             "resolution": "on_spot", "on_spot_action": "现场报修，已恢复使用"},
            {"category": "process", "description": "需另填民族成分确认表", "photos": [],
             "resolution": "ledger", "lead_unit": w.K1D.pk, "owner": w.carol.pk,
             "measure": "取消民族成分确认表，系统自动比对", "deadline_mode": "date", "deadline": deadline.isoformat()},
        ],
    }
    payload.update(fields)
    return payload


class SubmissionTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def post(self, payload, files=None, user=None, client=None):
        client = client or self.client
        client.force_login(user or self.w.alice)
        data = {"payload": json.dumps(payload, ensure_ascii=False)}
        for name, content in (files if files is not None else {"photo-0-0": png_bytes()}).items():
            data[name] = SimpleUploadedFile(f"{name}.png", content, content_type="image/png")
        return client.post(URL, data)

    def assertNothingWritten(self):
        self.assertEqual(WalkSession.objects.count(), 0)
        self.assertEqual(Problem.objects.count(), 0)
        self.assertEqual(RectificationItem.objects.count(), 0)
        self.assertEqual(ItemEvent.objects.count(), 0)
        self.assertEqual(Attachment.objects.count(), 0)
        self.assertEqual(Notification.objects.count(), 0)


class IdempotencyTests(SubmissionTestCase):
    def test_it_creates_the_walk_its_problems_item_photo_and_journal_with_201(self):
        w = self.w
        payload = valid_payload(w)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.post(payload)
        self.assertEqual(response.status_code, 201, response.content)
        walk = WalkSession.objects.get()
        self.assertEqual(response.json()["id"], walk.pk)
        self.assertEqual(response.json()["url"], reverse("walk_detail", args=[walk.pk]))
        self.assertEqual(str(walk.client_uuid), payload["client_uuid"])
        self.assertEqual((walk.unit, walk.leader, walk.created_by, walk.service_item), (w.K1, w.alice, w.alice, w.birth))
        self.assertEqual(walk.companion_count, 1)
        self.assertEqual(len(walk.submission_digest), 64)

        on_spot, ledger = walk.problems.order_by("id")
        self.assertEqual(on_spot.resolution, Problem.Resolution.ON_SPOT)
        self.assertFalse(on_spot.items.exists())  # fixed on the spot: nothing enters the ledger
        item = ledger.items.get()
        self.assertEqual(item.status, RectificationItem.Status.OPEN)
        self.assertEqual(item.opened_on, timezone.localdate())
        self.assertEqual(item.version, 1)
        self.assertEqual((item.unit, item.lead_unit, item.owner), (w.K1, w.K1D, w.carol))
        self.assertEqual(ledger.responsible_unit, w.K1D)
        event = ItemEvent.objects.get()
        self.assertEqual((event.item, event.action, event.actor, event.to_status),
                         (item, ItemEvent.Action.CREATED, w.alice, RectificationItem.Status.OPEN))
        self.assertEqual(event.data["walk"], walk.pk)

        photo = Attachment.objects.get()
        self.assertEqual((photo.walk, photo.problem, photo.unit, photo.kind, photo.content_type),
                         (walk, on_spot, w.K1, Attachment.Kind.PHOTO, "image/jpeg"))
        with photo.file.open("rb") as handle:
            self.assertEqual(Image.open(handle).format, "JPEG")  # re-encoded, whatever was sent

        note = Notification.objects.get()
        self.assertEqual((note.recipient, note.item), (w.carol, item))

    def test_it_answers_an_identical_resend_with_200_and_the_same_record(self):
        payload = valid_payload(self.w)
        first = self.post(payload)
        again = self.post(payload)
        self.assertEqual(first.status_code, 201)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(WalkSession.objects.count(), 1)
        self.assertEqual(Problem.objects.count(), 2)
        self.assertEqual(RectificationItem.objects.count(), 1)
        self.assertEqual(Attachment.objects.count(), 1)

    def test_it_treats_key_order_as_the_same_content(self):
        payload = valid_payload(self.w)
        self.assertEqual(self.post(payload).status_code, 201)
        reordered = dict(reversed(list(payload.items())))
        self.assertEqual(self.post(reordered).status_code, 200)

    def test_it_answers_409_to_the_same_uuid_with_different_content(self):
        payload = valid_payload(self.w)
        self.assertEqual(self.post(payload).status_code, 201)
        changed = json.loads(json.dumps(payload))
        changed["problems"][1]["description"] = "另一个问题"
        response = self.post(changed)
        self.assertEqual(response.status_code, 409)
        self.assertIn("另存为新记录", response.json()["message"])
        self.assertEqual(Problem.objects.filter(description="另一个问题").count(), 0)
        self.assertEqual(WalkSession.objects.count(), 1)

    def test_it_answers_409_when_only_a_photo_differs(self):
        payload = valid_payload(self.w)
        self.assertEqual(self.post(payload).status_code, 201)
        response = self.post(payload, files={"photo-0-0": png_bytes(color=(0, 0, 255))})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(Attachment.objects.count(), 1)

    def test_it_answers_409_when_another_leader_reuses_the_uuid(self):
        w = self.w
        payload = valid_payload(w)
        self.assertEqual(self.post(payload).status_code, 201)
        # dave cannot see alice's walk: the answer must not hand him its id or address.
        response = self.post(dict(payload, unit=w.K2.pk, problems=[]), user=w.dave)
        self.assertEqual(response.status_code, 409)
        self.assertNotIn("id", response.json())

    def test_it_answers_a_racing_duplicate_as_a_resend(self):
        # The second copy passed the look-up before the first committed; the unique client UUID
        # stops it at the INSERT, and it answers like any identical resend.
        payload = valid_payload(self.w)
        self.assertEqual(self.post(payload).status_code, 201)
        real = walk_submission._already_received
        calls = []

        def first_miss(*args):
            calls.append(args)
            return None if len(calls) == 1 else real(*args)

        with mock.patch.object(walk_submission, "_already_received", side_effect=first_miss):
            response = self.post(payload)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(WalkSession.objects.count(), 1)
        self.assertEqual(Attachment.objects.count(), 1)


class ScopeTests(SubmissionTestCase):
    def test_it_refuses_a_unit_outside_the_leaders_subtree(self):
        w = self.w
        response = self.post(valid_payload(w, unit=w.K2.pk))  # K2 is K1's sibling
        self.assertEqual(response.status_code, 403)
        self.assertIn("本单位及下级单位", response.json()["errors"]["unit"])
        response = self.post(valid_payload(w, unit=w.C1.pk))  # nor the city above
        self.assertEqual(response.status_code, 403)
        self.assertNothingWritten()

    def test_it_refuses_a_leader_of_another_city(self):
        w = self.w
        response = self.post(valid_payload(w), user=w.frank)
        self.assertEqual(response.status_code, 403)
        self.assertNothingWritten()

    def test_it_lets_a_leader_file_for_a_unit_below_theirs(self):
        w = self.w
        response = self.post(valid_payload(w, unit=w.K1D.pk))
        self.assertEqual(response.status_code, 201)
        self.assertEqual(WalkSession.objects.get().unit, w.K1D)

    def test_it_refuses_users_who_are_not_leaders(self):
        w = self.w
        for user in (w.carol, w.bob, w.erin):
            response = self.post(valid_payload(w), user=user)
            self.assertEqual(response.status_code, 403, user)
            self.assertIn("领导", response.json()["message"])
        self.assertNothingWritten()

    def test_it_refuses_a_lead_unit_owner_and_service_item_outside_scope(self):
        w = self.w
        payload = valid_payload(w, service_item=w.disability.pk)  # an item of K3, in the other city
        payload["problems"][1].update(lead_unit=w.K2.pk, owner=w.dave.pk)
        response = self.post(payload)
        self.assertEqual(response.status_code, 400)
        errors = response.json()["errors"]
        self.assertEqual(set(errors), {"service_item", "problems.1.lead_unit", "problems.1.owner"})
        self.assertNothingWritten()

    def test_it_refuses_an_owner_without_the_owner_role(self):
        w = self.w
        payload = valid_payload(w)
        w.carol.groups.clear()
        payload["problems"][1]["owner"] = w.carol.pk
        response = self.post(payload)
        self.assertEqual(response.status_code, 400)
        self.assertIn("problems.1.owner", response.json()["errors"])

    def test_it_answers_401_in_json_when_signed_out(self):
        response = Client().post(URL, {"payload": json.dumps(valid_payload(self.w))})
        self.assertEqual(response.status_code, 401)
        self.assertIn("草稿仍保存在本机", response.json()["message"])

    def test_it_requires_the_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.alice)
        payload = {"payload": json.dumps(valid_payload(self.w, problems=[]))}
        self.assertEqual(client.post(URL, payload).status_code, 403)
        client.get(reverse("walk_new"))  # sets the csrftoken cookie the page's script reads
        token = client.cookies[settings.CSRF_COOKIE_NAME].value
        self.assertEqual(client.post(URL, payload, headers={"X-CSRFToken": token}).status_code, 201)


class PhotoTests(SubmissionTestCase):
    def test_it_refuses_a_png_that_is_really_html(self):
        html = b"<!doctype html><script>alert(1)</script>"
        response = self.post(valid_payload(self.w), files={"photo-0-0": html})
        self.assertEqual(response.status_code, 400)
        self.assertIn("不是可识别的图片", response.json()["errors"]["problems.0.photos"])
        self.assertNothingWritten()

    @override_settings(UPLOAD_MAX_BYTES=2000)
    def test_it_refuses_a_photo_over_the_size_limit(self):
        big = png_bytes(size=(400, 400))
        big += b"\0" * max(0, 2100 - len(big))
        response = self.post(valid_payload(self.w), files={"photo-0-0": big})
        self.assertEqual(response.status_code, 400)
        self.assertIn("超过", response.json()["errors"]["problems.0.photos"])
        self.assertNothingWritten()

    def test_it_refuses_a_listed_photo_that_was_not_sent(self):
        response = self.post(valid_payload(self.w), files={})
        self.assertEqual(response.status_code, 400)
        self.assertIn("problems.0.photos", response.json()["errors"])

    def test_it_strips_metadata_and_shrinks_big_photos(self):
        jpeg = io.BytesIO()
        exif = Image.Exif()
        exif[0x010F] = "SecretCam"  # the camera's make: metadata that must not survive
        Image.new("RGB", (3000, 2000), (10, 120, 10)).save(jpeg, "JPEG", exif=exif)
        self.assertEqual(self.post(valid_payload(self.w), files={"photo-0-0": jpeg.getvalue()}).status_code, 201)
        with Attachment.objects.get().file.open("rb") as handle:
            stored = Image.open(handle)
            self.assertEqual(max(stored.size), 1600)
            self.assertNotIn(0x010F, stored.getexif())


class ValidationTests(SubmissionTestCase):
    def test_it_writes_nothing_when_one_problem_row_is_bad(self):
        w = self.w
        payload = valid_payload(w, service_item=None, new_service_item_name="新登记的事项")
        payload["problems"].append({"category": "system", "description": "", "resolution": "ledger",
                                    "lead_unit": w.K1D.pk, "owner": w.carol.pk, "measure": "x",
                                    "deadline_mode": "date", "deadline": "2020-01-01"})
        response = self.post(payload)
        self.assertEqual(response.status_code, 400)
        errors = response.json()["errors"]
        self.assertEqual(errors["problems.2.description"], "请描述发现的问题。")
        self.assertEqual(errors["problems.2.deadline"], "整改时限不能早于今天。")
        self.assertNothingWritten()
        self.assertFalse(ServiceItem.objects.filter(name="新登记的事项").exists())

    def test_it_rolls_back_everything_when_a_write_fails_half_way(self):
        # The photo, the walk and the first problems are written before the failure: all of it,
        # and the stored photo file, must go.
        w = self.w
        payload = valid_payload(w)
        storage = Attachment._meta.get_field("file").storage
        folder = f"attachments/{timezone.now():%Y/%m}"

        def stored_files():
            return set(storage.listdir(folder)[1]) if storage.exists(folder) else set()

        before = stored_files()
        files = {"photo-0-0": SimpleUploadedFile("p.png", png_bytes(), content_type="image/png")}
        with mock.patch.object(walk_submission, "notify", side_effect=RuntimeError("mail server on fire")):
            with self.assertRaises(RuntimeError):
                walk_submission.submit(w.alice, payload, files)
        self.assertNothingWritten()
        self.assertEqual(stored_files(), before)

    def test_it_names_every_missing_required_field(self):
        w = self.w
        payload = {"client_uuid": str(uuid.uuid4()), "campaign": w.campaign.pk,
                   "problems": [{"resolution": "on_spot"}, {"resolution": "ledger", "category": "system",
                                                            "description": "x"}]}
        response = self.post(payload, files={})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(set(response.json()["errors"]), {
            "service_item", "identity", "way", "started_at",
            "problems.0.category", "problems.0.description", "problems.0.on_spot_action",
            "problems.1.lead_unit", "problems.1.owner", "problems.1.measure", "problems.1.deadline",
        })

    def test_it_refuses_a_deadline_that_is_not_a_date(self):
        payload = valid_payload(self.w)
        for bad in ("2026-02-30", "下周五", 20260101, "2026/13/01"):
            payload["client_uuid"] = str(uuid.uuid4())
            payload["problems"][1]["deadline"] = bad
            response = self.post(payload)
            self.assertEqual(response.status_code, 400, bad)
            self.assertEqual(response.json()["errors"]["problems.1.deadline"], "整改时限不是有效的日期。")

    @time_machine.travel(datetime.datetime(2026, 2, 13, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))),
                         tick=False)
    def test_it_turns_working_days_into_a_deadline(self):
        # 2026-02-13 is the Friday before the Spring Festival; the 14th is a make-up workday,
        # the 15th–23rd are off, so 3 working days later is the 25th.
        payload = valid_payload(self.w)
        payload["problems"][1].update(deadline_mode="days", deadline_days=3, deadline="")
        self.assertEqual(self.post(payload).status_code, 201)
        item = RectificationItem.objects.get()
        self.assertEqual(item.deadline, datetime.date(2026, 2, 25))
        self.assertEqual(item.events.get().data["working_days"], 3)

    def test_it_refuses_an_end_before_the_start_and_too_many_deputies(self):
        payload = valid_payload(self.w, ended_at="2020-01-01T08:00", companion_count=1, deputy_count=2)
        errors = self.post(payload).json()["errors"]
        self.assertEqual(set(errors), {"ended_at", "deputy_count"})

    def test_it_adds_a_missing_service_item_once(self):
        w = self.w
        first = valid_payload(w, service_item=None, new_service_item_name="公共场所卫生许可", problems=[])
        second = dict(first, client_uuid=str(uuid.uuid4()))
        self.assertEqual(self.post(first, files={}).status_code, 201)
        self.assertEqual(self.post(second, files={}).status_code, 201)
        item = ServiceItem.objects.get(name="公共场所卫生许可")
        self.assertEqual((item.origin, item.competent_unit), (ServiceItem.Origin.ADDED_ON_WALK, w.K1))
        self.assertEqual(WalkSession.objects.filter(service_item=item).count(), 2)

    def test_it_reuses_a_visible_item_typed_by_name(self):
        # Typed offline without the type-ahead: the existing item is meant, not a new one.
        payload = valid_payload(self.w, service_item="", new_service_item_name="出生上户“一件事一次办”", problems=[])
        self.assertEqual(self.post(payload, files={}).status_code, 201)
        self.assertEqual(WalkSession.objects.get().service_item, self.w.birth)
        self.assertEqual(ServiceItem.objects.filter(name=self.w.birth.name).count(), 1)

    def test_it_accepts_a_walk_without_problems(self):
        self.assertEqual(self.post(valid_payload(self.w, problems=[]), files={}).status_code, 201)


class MalformedInputTests(SubmissionTestCase):
    def test_it_answers_400_to_bodies_it_cannot_read(self):
        self.client.force_login(self.w.alice)
        cases = [
            ("multipart", {"payload": "{not json"}),
            ("multipart", {"payload": "[1, 2]"}),
            ("multipart", {}),
            ("multipart", {"payload": json.dumps({"client_uuid": "nope"})}),
            ("multipart", {"payload": '{"a": ' * 5000 + "1" + "}" * 5000}),
        ]
        for _kind, data in cases:
            response = self.client.post(URL, data)
            self.assertEqual(response.status_code, 400, data)
            self.assertTrue(response.json()["message"])
        for body in (b"\xff\xfe", b"null", b'"text"', b"{}"):
            response = self.client.post(URL, body, content_type="application/json")
            self.assertEqual(response.status_code, 400, body)
        response = self.client.post(URL, b"--x\r\nbroken", content_type="multipart/form-data; boundary=x")
        self.assertEqual(response.status_code, 400)
        self.assertNothingWritten()

    def test_it_answers_400_to_wrong_types_in_every_field(self):
        w = self.w
        wrong = [None, True, 1.5, [], {}, "x" * 20000, -1, 10**30, "١٢"]
        fields = ["campaign", "unit", "service_item", "identity", "way", "place", "started_at", "ended_at",
                  "companion_count", "deputy_count", "notes", "problems", "new_service_item_name", "leader_rank"]
        for name in fields:
            for value in wrong:
                payload = valid_payload(w, **{name: value})
                response = self.post(payload, files={})
                self.assertIn(response.status_code, (201, 400, 403), (name, value))
        for name in ["category", "subcategory", "description", "photos", "resolution", "on_spot_action",
                     "lead_unit", "owner", "measure", "deadline_mode", "deadline", "deadline_days"]:
            for value in wrong:
                payload = valid_payload(w)
                payload["problems"][1][name] = value
                payload["problems"][0][name] = value
                self.assertIn(self.post(payload).status_code, (201, 400), (name, value))
        payload = valid_payload(w, problems=["not a dict", 3])
        self.assertEqual(self.post(payload, files={}).json()["errors"]["problems.0"], "格式不正确。")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


class FuzzTests(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    @hypothesis_settings(max_examples=60, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow])
    @given(walk=st.dictionaries(st.sampled_from(["campaign", "unit", "service_item", "identity", "way",
                                                 "started_at", "ended_at", "companion_count", "problems"]),
                                json_values, max_size=4),
           row=st.dictionaries(st.sampled_from(["category", "description", "resolution", "lead_unit", "owner",
                                                "deadline_mode", "deadline", "deadline_days", "photos"]),
                               json_values, max_size=4))
    def test_it_never_crashes_on_any_json(self, walk, row):
        payload = valid_payload(self.w, problems=[])
        payload.update(walk)
        if "problems" not in walk:
            payload["problems"] = [row]
        outcome = walk_submission.submit(self.w.alice, payload, {})
        self.assertIn(outcome.status, (201, 400, 403))
        if outcome.status != 201:
            self.assertTrue(outcome.message)
