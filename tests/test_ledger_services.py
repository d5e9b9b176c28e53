"""Every item transition, allowed and refused: by role, by scope and by state.

Personas (tests/world.py): bob supervises city C1 (K1, K2, K1D); dave supervises K2 only (a sibling
of K1) and is also an owner; carol owns the K1 items; alice is a leader and owner at K1 but not a
supervisor; erin is office staff at the province.
"""

import datetime
import io

from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.utils import timezone
from PIL import Image

from ledgers import services
from ledgers.models import (
    Attachment,
    ClosureRecord,
    ExtensionRequest,
    ItemEvent,
    Notification,
    RectificationItem,
)
from ledgers.uploads import validate_upload
from tests.world import build_world, make_item, make_problem

Status = RectificationItem.Status
Action = ItemEvent.Action
TODAY = timezone.localdate


def png_bytes(size=(8, 8), mode="RGB"):
    out = io.BytesIO()
    Image.new(mode, size, "red").save(out, format="PNG")
    return out.getvalue()


class LedgerServiceTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def item(self, **fields):
        return make_item(self.w, **fields)

    def requested(self, owner=None, **fields):
        """An item whose owner has asked for closure."""
        item = self.item(owner=owner or self.w.carol, **fields)
        services.request_closure(item.owner, item.pk, evidence="已取消民族成分确认表")
        item.refresh_from_db()
        return item

    def assertUnchanged(self, item):
        before = (item.status, item.version, item.deadline, item.owner_id, item.lead_unit_id)
        item.refresh_from_db()
        self.assertEqual((item.status, item.version, item.deadline, item.owner_id, item.lead_unit_id), before)


class OwnerActionsTestCase(LedgerServiceTestCase):
    def test_it_records_a_progress_note_and_starts_the_item(self):
        item = self.item()
        services.add_progress(self.w.carol, item.pk, note="已与公安系统对接", version=1)
        item.refresh_from_db()
        self.assertEqual(item.status, Status.IN_PROGRESS)
        self.assertEqual(item.version, 2)
        event = item.events.get()
        self.assertEqual((event.action, event.from_status, event.to_status, event.note, event.actor),
                         (Action.PROGRESS, Status.OPEN, Status.IN_PROGRESS, "已与公安系统对接", self.w.carol))
        self.assertEqual(event.data["version"], 2)

    def test_it_refuses_a_progress_note_from_someone_who_is_not_the_owner(self):
        item = self.item()
        # alice is an owner at K1 and sees the item, but it is carol's.
        with self.assertRaises(PermissionDenied):
            services.add_progress(self.w.alice, item.pk, note="x")
        with self.assertRaises(PermissionDenied):
            services.add_progress(self.w.bob, item.pk, note="x")
        self.assertUnchanged(item)
        self.assertFalse(ItemEvent.objects.exists())

    def test_it_hides_an_item_outside_the_scope(self):
        item = self.item()
        with self.assertRaises(RectificationItem.DoesNotExist):
            services.add_progress(self.w.frank, item.pk, note="x")

    def test_it_refuses_a_blank_progress_note(self):
        item = self.item()
        with self.assertRaises(services.Refused):
            services.add_progress(self.w.carol, item.pk, note="   ")
        self.assertUnchanged(item)

    def test_it_refuses_progress_on_a_closed_item_or_one_awaiting_review(self):
        for status in (Status.CLOSED, Status.CLOSURE_REQUESTED):
            item = self.item(status=status)
            with self.assertRaises(services.Refused):
                services.add_progress(self.w.carol, item.pk, note="x")
            self.assertUnchanged(item)

    def test_it_accepts_progress_on_a_returned_item(self):
        item = self.item(status=Status.RETURNED)
        services.add_progress(self.w.carol, item.pk, note="按退回意见补充材料")
        item.refresh_from_db()
        self.assertEqual(item.status, Status.IN_PROGRESS)

    def test_it_records_an_extension_request_and_tells_the_supervisors(self):
        item = self.item()
        new = item.deadline + datetime.timedelta(days=30)
        request = services.request_extension(self.w.carol, item.pk, new_deadline=new, reason="需省厅系统升级")
        self.assertEqual((request.old_deadline, request.new_deadline, request.decision),
                         (item.deadline, new, ExtensionRequest.Decision.PENDING))
        self.assertEqual(item.events.get().action, Action.EXTENSION_REQUESTED)
        item.refresh_from_db()
        self.assertEqual(item.deadline, request.old_deadline)  # unchanged until decided
        self.assertEqual(set(Notification.objects.values_list("recipient__username", flat=True)), {"bob"})

    def test_it_refuses_an_extension_that_does_not_move_the_deadline_later(self):
        item = self.item()
        with self.assertRaises(services.Refused):
            services.request_extension(self.w.carol, item.pk, new_deadline=item.deadline, reason="x")
        with self.assertRaises(services.Refused):
            services.request_extension(self.w.carol, item.pk, new_deadline=item.deadline + datetime.timedelta(1),
                                       reason=" ")
        self.assertFalse(ExtensionRequest.objects.exists())

    def test_it_refuses_a_second_pending_extension(self):
        item = self.item()
        later = item.deadline + datetime.timedelta(days=10)
        services.request_extension(self.w.carol, item.pk, new_deadline=later, reason="x")
        with self.assertRaises(services.Refused):
            services.request_extension(self.w.carol, item.pk, new_deadline=later, reason="y")
        self.assertEqual(ExtensionRequest.objects.count(), 1)

    def test_it_refuses_an_extension_on_a_closed_item(self):
        item = self.item(status=Status.CLOSED)
        with self.assertRaises(services.Refused):
            services.request_extension(self.w.carol, item.pk, new_deadline=item.deadline + datetime.timedelta(9),
                                       reason="x")

    def test_it_records_a_closure_request_with_figures_and_files(self):
        item = self.item()
        clean = validate_upload(SimpleUploadedFile("前后对比.png", png_bytes(), content_type="image/png"))
        record = services.request_closure(self.w.carol, item.pk, evidence="系统自动比对身份证信息", files=[clean],
                                          figures={"time_limit_before": 10, "time_limit_after": 6, "bogus": 1})
        item.refresh_from_db()
        self.assertEqual(item.status, Status.CLOSURE_REQUESTED)
        self.assertEqual((record.time_limit_before, record.time_limit_after, record.decision),
                         (10, 6, ClosureRecord.Decision.PENDING))
        attachment = Attachment.objects.get()
        self.assertEqual((attachment.closure, attachment.item, attachment.unit, attachment.uploaded_by),
                         (record, item, self.w.K1, self.w.carol))
        event = item.events.get()
        self.assertEqual((event.action, event.to_status), (Action.CLOSURE_REQUESTED, Status.CLOSURE_REQUESTED))

    def test_a_failed_closure_request_leaves_no_file_behind(self):
        from unittest import mock

        from django.conf import settings

        item = self.item()
        clean = validate_upload(SimpleUploadedFile("前后对比.png", png_bytes(), content_type="image/png"))
        before = {path for path in settings.MEDIA_ROOT.rglob("*") if path.is_file()}
        with mock.patch.object(services, "notify", side_effect=RuntimeError("mail queue down")):
            with self.assertRaises(RuntimeError):
                services.request_closure(self.w.carol, item.pk, evidence="已整改", files=[clean])
        self.assertFalse(ClosureRecord.objects.exists())
        self.assertFalse(Attachment.objects.exists())
        self.assertEqual({path for path in settings.MEDIA_ROOT.rglob("*") if path.is_file()}, before)

    def test_it_tells_the_supervisors_of_the_unit_chain_about_a_closure_request(self):
        item = self.item()
        with self.captureOnCommitCallbacks(execute=True):
            services.request_closure(self.w.carol, item.pk, evidence="已整改")
        # bob supervises C1, above K1; dave supervises K2, a sibling: he is not told.
        self.assertEqual(list(Notification.objects.values_list("recipient__username", flat=True)), ["bob"])
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["bob@example.cn"])

    def test_it_refuses_a_closure_without_evidence(self):
        item = self.item()
        with self.assertRaises(services.Refused):
            services.request_closure(self.w.carol, item.pk, evidence="  ")
        self.assertUnchanged(item)
        self.assertFalse(ClosureRecord.objects.exists())

    def test_it_refuses_a_closure_request_twice(self):
        item = self.requested()
        with self.assertRaises(services.Refused):
            services.request_closure(self.w.carol, item.pk, evidence="再次申请")
        self.assertEqual(ClosureRecord.objects.count(), 1)

    def test_it_refuses_a_closure_request_by_someone_else(self):
        item = self.item()
        with self.assertRaises(PermissionDenied):
            services.request_closure(self.w.bob, item.pk, evidence="督办代为申请")
        self.assertUnchanged(item)


class ClosureReviewTestCase(LedgerServiceTestCase):
    def test_it_approves_a_closure(self):
        item = self.requested()
        services.approve_closure(self.w.bob, item.pk, note="佐证材料齐全", version=item.version)
        item.refresh_from_db()
        self.assertEqual(item.status, Status.CLOSED)
        self.assertIsNotNone(item.closed_at)
        record = item.closures.get()
        self.assertEqual((record.decision, record.reviewed_by, record.reason),
                         (ClosureRecord.Decision.APPROVED, self.w.bob, "佐证材料齐全"))
        event = item.events.latest("id")
        self.assertEqual((event.action, event.from_status, event.to_status), (Action.CLOSED, Status.CLOSURE_REQUESTED,
                                                                              Status.CLOSED))
        self.assertTrue(Notification.objects.filter(recipient=self.w.carol).exists())

    def test_it_refuses_approval_from_a_supervisor_of_another_branch(self):
        item = self.requested()
        with self.assertRaises(RectificationItem.DoesNotExist):
            services.approve_closure(self.w.dave, item.pk)
        self.assertUnchanged(item)

    def test_it_refuses_approval_from_someone_who_is_not_a_supervisor(self):
        item = self.requested()
        for user in (self.w.alice, self.w.carol, self.w.erin):
            with self.assertRaises(PermissionDenied):
                services.approve_closure(user, item.pk)
        self.assertUnchanged(item)
        self.assertEqual(item.closures.get().decision, ClosureRecord.Decision.PENDING)

    def test_it_refuses_approval_when_no_closure_was_asked(self):
        for status in (Status.OPEN, Status.IN_PROGRESS, Status.RETURNED, Status.CLOSED):
            item = self.item(status=status)
            with self.assertRaises(services.Refused):
                services.approve_closure(self.w.bob, item.pk)
            self.assertUnchanged(item)

    def test_it_refuses_self_approval(self):
        w = self.w
        # dave supervises K2 and owns this K2 item: he may ask for closure, never approve his own.
        item = self.requested(owner=w.dave, problem=make_problem(w, unit=w.K2), lead_unit=w.K2)
        with self.assertRaises(services.Refused) as refused:
            services.approve_closure(w.dave, item.pk)
        self.assertIn("本人", refused.exception.message)
        self.assertUnchanged(item)
        self.assertEqual(item.closures.get().decision, ClosureRecord.Decision.PENDING)
        with self.assertRaises(services.Refused):
            services.return_closure(w.dave, item.pk, reason="x")
        services.approve_closure(w.bob, item.pk)  # the city supervisor can
        item.refresh_from_db()
        self.assertEqual(item.status, Status.CLOSED)

    def test_it_approves_only_once(self):
        item = self.requested()
        services.approve_closure(self.w.bob, item.pk)
        with self.assertRaises(services.Refused):
            services.approve_closure(self.w.bob, item.pk)
        self.assertEqual(ItemEvent.objects.filter(action=Action.CLOSED).count(), 1)

    def test_it_returns_a_closure_with_a_reason_and_the_owner_can_ask_again(self):
        item = self.requested()
        with self.captureOnCommitCallbacks(execute=True):
            services.return_closure(self.w.bob, item.pk, reason="缺少系统截图")
        item.refresh_from_db()
        self.assertEqual(item.status, Status.RETURNED)
        self.assertEqual(item.closures.get().decision, ClosureRecord.Decision.RETURNED)
        self.assertEqual(mail.outbox[-1].to, ["carol@example.cn"])
        self.assertIn("缺少系统截图", Notification.objects.filter(recipient=self.w.carol).first().message)
        services.request_closure(self.w.carol, item.pk, evidence="补充了系统截图")
        item.refresh_from_db()
        self.assertEqual(item.status, Status.CLOSURE_REQUESTED)

    def test_it_refuses_a_return_without_reason(self):
        item = self.requested()
        with self.assertRaises(services.Refused):
            services.return_closure(self.w.bob, item.pk, reason="")
        self.assertUnchanged(item)

    def test_it_refuses_a_return_by_a_non_supervisor_or_out_of_scope(self):
        item = self.requested()
        with self.assertRaises(PermissionDenied):
            services.return_closure(self.w.carol, item.pk, reason="x")
        with self.assertRaises(RectificationItem.DoesNotExist):
            services.return_closure(self.w.dave, item.pk, reason="x")
        self.assertUnchanged(item)


class SupervisorChangesTestCase(LedgerServiceTestCase):
    def extension(self, item, owner=None, days=15):
        return services.request_extension(owner or self.w.carol, item.pk,
                                          new_deadline=item.deadline + datetime.timedelta(days=days), reason="需协调")

    def test_it_approves_an_extension_and_moves_the_deadline(self):
        item = self.item()
        request = self.extension(item)
        services.decide_extension(self.w.bob, item.pk, approve=True)
        item.refresh_from_db()
        request.refresh_from_db()
        self.assertEqual(item.deadline, request.new_deadline)
        self.assertEqual((request.decision, request.decided_by), (ExtensionRequest.Decision.APPROVED, self.w.bob))
        self.assertEqual(item.events.latest("id").action, Action.EXTENSION_APPROVED)
        self.assertTrue(Notification.objects.filter(recipient=self.w.carol, message__contains="同意").exists())

    def test_it_rejects_an_extension_only_with_a_reason(self):
        item = self.item()
        self.extension(item)
        with self.assertRaises(services.Refused):
            services.decide_extension(self.w.bob, item.pk, approve=False, note="")
        services.decide_extension(self.w.bob, item.pk, approve=False, note="时限内可完成")
        item.refresh_from_db()
        self.assertEqual(item.extension_requests.get().decision, ExtensionRequest.Decision.REJECTED)
        self.assertEqual(item.events.latest("id").action, Action.EXTENSION_REJECTED)
        self.assertEqual(item.deadline, item.extension_requests.get().old_deadline)

    def test_it_refuses_an_extension_decision_without_a_request_or_by_the_wrong_person(self):
        w = self.w
        item = self.item()
        with self.assertRaises(services.Refused):
            services.decide_extension(w.bob, item.pk, approve=True)
        self.extension(item)
        with self.assertRaises(PermissionDenied):
            services.decide_extension(w.carol, item.pk, approve=True)
        with self.assertRaises(RectificationItem.DoesNotExist):
            services.decide_extension(w.dave, item.pk, approve=True)
        own = make_item(w, owner=w.dave, problem=make_problem(w, unit=w.K2), lead_unit=w.K2)
        self.extension(own, owner=w.dave)
        with self.assertRaises(services.Refused):
            services.decide_extension(w.dave, own.pk, approve=True)

    def test_it_reassigns_the_owner_and_tells_the_new_one(self):
        item = self.item()
        with self.captureOnCommitCallbacks(execute=True):
            services.reassign_owner(self.w.bob, item.pk, owner=self.w.alice, note="调整分工")
        item.refresh_from_db()
        self.assertEqual(item.owner, self.w.alice)
        event = item.events.get()
        self.assertEqual((event.action, event.data["owner_from"], event.data["owner_to"]),
                         (Action.REASSIGNED, self.w.carol.pk, self.w.alice.pk))
        self.assertIn("alice@example.cn", [to for message in mail.outbox for to in message.to])
        self.assertTrue(Notification.objects.filter(recipient=self.w.alice, message__contains="责任人").exists())

    def test_it_refuses_an_owner_outside_the_scope_or_without_the_role(self):
        item = self.item()
        for user in (self.w.frank, self.w.erin, self.w.bob, self.w.carol):
            # frank: other city; erin: province, above bob; bob: no owner role; carol: already the owner
            with self.assertRaises(services.Refused):
                services.reassign_owner(self.w.bob, item.pk, owner=user)
        self.assertUnchanged(item)

    def test_it_refuses_reassignment_by_a_non_supervisor(self):
        item = self.item()
        with self.assertRaises(PermissionDenied):
            services.reassign_owner(self.w.alice, item.pk, owner=self.w.alice)
        self.assertUnchanged(item)

    def test_it_changes_the_lead_unit_inside_the_scope_only(self):
        item = self.item()
        services.change_lead_unit(self.w.bob, item.pk, lead_unit=self.w.K2)
        item.refresh_from_db()
        self.assertEqual(item.lead_unit, self.w.K2)
        self.assertEqual(item.events.get().data["changes"]["lead_unit"], ["赫山区行政审批服务局", "资阳区"])
        with self.assertRaises(services.Refused):
            services.change_lead_unit(self.w.bob, item.pk, lead_unit=self.w.K3)
        self.assertUnchanged(item)

    def test_it_sets_a_deadline_but_never_before_the_opening(self):
        item = self.item()
        new = item.deadline + datetime.timedelta(days=3)
        services.set_deadline(self.w.bob, item.pk, deadline=new, note="按月调度要求")
        item.refresh_from_db()
        self.assertEqual(item.deadline, new)
        self.assertEqual(item.events.get().action, Action.DEADLINE_SET)
        with self.assertRaises(services.Refused):
            services.set_deadline(self.w.bob, item.pk, deadline=item.opened_on - datetime.timedelta(days=1))
        self.assertUnchanged(item)

    def test_it_refuses_changes_to_a_closed_item(self):
        item = self.item(status=Status.CLOSED)
        with self.assertRaises(services.Refused):
            services.set_deadline(self.w.bob, item.pk, deadline=item.deadline + datetime.timedelta(days=1))
        with self.assertRaises(services.Refused):
            services.reassign_owner(self.w.bob, item.pk, owner=self.w.alice)
        with self.assertRaises(services.Refused):
            services.change_lead_unit(self.w.bob, item.pk, lead_unit=self.w.K2)
        self.assertUnchanged(item)

    def test_it_reopens_a_closed_item_after_a_follow_up_walk(self):
        item = self.requested()
        services.approve_closure(self.w.bob, item.pk)
        new = TODAY() + datetime.timedelta(days=10)
        services.reopen(self.w.bob, item.pk, reason="回头看发现仍需填表", deadline=new)
        item.refresh_from_db()
        self.assertEqual((item.status, item.closed_at, item.deadline), (Status.OPEN, None, new))
        event = item.events.latest("id")
        self.assertEqual((event.action, event.from_status, event.to_status), (Action.REOPENED, Status.CLOSED,
                                                                              Status.OPEN))

    def test_it_refuses_to_reopen_an_open_item_or_without_a_reason(self):
        item = self.item()
        with self.assertRaises(services.Refused):
            services.reopen(self.w.bob, item.pk, reason="x")
        closed = self.item(status=Status.CLOSED)
        with self.assertRaises(services.Refused):
            services.reopen(self.w.bob, closed.pk, reason="")
        with self.assertRaises(PermissionDenied):
            services.reopen(self.w.carol, closed.pk, reason="x")
        self.assertUnchanged(closed)

    def test_it_refuses_a_save_built_on_a_stale_version(self):
        item = self.item()
        services.add_progress(self.w.carol, item.pk, note="进展", version=1)
        with self.assertRaises(services.StaleItem) as stale:
            services.set_deadline(self.w.bob, item.pk, deadline=item.deadline + datetime.timedelta(days=1), version=1)
        self.assertEqual(stale.exception.version, 1)
        self.assertEqual([e.action for e in services.events_since(stale.exception.item, 1)], [Action.PROGRESS])
        item.refresh_from_db()
        self.assertEqual((item.version, item.deadline), (2, item.deadline))
        self.assertEqual(item.events.count(), 1)


class BulkTestCase(LedgerServiceTestCase):
    def test_it_approves_many_and_reports_the_refused_ones(self):
        w = self.w
        first, second = self.requested(), self.requested()
        not_asked = self.item()
        elsewhere = make_item(w, owner=w.frank, problem=make_problem(w, unit=w.K3), lead_unit=w.K3)
        done, refused = services.run_bulk(w.bob, [first.pk, second.pk, not_asked.pk, elsewhere.pk], "approve",
                                          note="月度集中销号")
        self.assertEqual(done, [first.pk, second.pk])
        self.assertEqual([item_id for item_id, _ in refused], [not_asked.pk, elsewhere.pk])
        closed = ItemEvent.objects.filter(action=Action.CLOSED)
        self.assertEqual(sorted(closed.values_list("item_id", flat=True)), [first.pk, second.pk])
        self.assertEqual(set(closed.values_list("note", flat=True)), {"月度集中销号"})

    def test_it_sets_one_deadline_and_one_owner_on_many(self):
        items = [self.item() for _ in range(3)]
        day = TODAY() + datetime.timedelta(days=40)
        done, refused = services.run_bulk(self.w.bob, [i.pk for i in items], "deadline", deadline=day, note="统一")
        self.assertEqual((len(done), refused), (3, []))
        done, refused = services.run_bulk(self.w.bob, [i.pk for i in items], "reassign", owner=self.w.alice, note="")
        self.assertEqual(len(done), 3)
        self.assertEqual(set(RectificationItem.objects.values_list("deadline", "owner")), {(day, self.w.alice.pk)})
        self.assertEqual(ItemEvent.objects.filter(action=Action.DEADLINE_SET).count(), 3)
        self.assertEqual(ItemEvent.objects.filter(action=Action.REASSIGNED).count(), 3)


class UploadTestCase(TestCase):
    def test_it_accepts_a_pdf_by_its_content(self):
        clean = validate_upload(SimpleUploadedFile("x.bin", b"%PDF-1.7\n...", content_type="text/plain"))
        self.assertEqual((clean.content_type, clean.kind), ("application/pdf", Attachment.Kind.DOCUMENT))

    def test_it_reencodes_an_image_and_drops_what_follows_it(self):
        data = png_bytes() + b"<script>alert(1)</script>"
        clean = validate_upload(SimpleUploadedFile("a.png", data, content_type="image/png"))
        self.assertEqual(clean.content_type, "image/jpeg")
        self.assertNotIn(b"<script>", clean.data)
        self.assertEqual(Image.open(io.BytesIO(clean.data)).size, (8, 8))

    def test_it_keeps_transparency_as_png(self):
        clean = validate_upload(SimpleUploadedFile("a.png", png_bytes(mode="RGBA"), content_type="image/png"))
        self.assertEqual(clean.content_type, "image/png")

    def test_it_refuses_anything_else(self):
        from django.core.exceptions import ValidationError

        for data in (b"<html>hello</html>", b"PK\x03\x04 zip", png_bytes()[:40]):
            with self.assertRaises(ValidationError):
                validate_upload(SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg"))

    @override_settings(UPLOAD_MAX_BYTES=100)
    def test_it_refuses_a_file_over_the_limit(self):
        from django.core.exceptions import ValidationError

        with self.assertRaises(ValidationError):
            validate_upload(SimpleUploadedFile("a.pdf", b"%PDF-" + b"0" * 200))
