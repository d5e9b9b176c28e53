"""The daily 07:30 scan: reminders before the deadline, escalation once red, never twice."""

import datetime

import time_machine
from django.core import mail
from django.test import TestCase

from ledgers import tasks
from ledgers.models import Notification, RectificationItem, ReminderLog
from ledgers.reminders import claim
from tests.world import build_world, make_item, make_problem

SH = datetime.timezone(datetime.timedelta(hours=8))
MONDAY = datetime.date(2022, 5, 16)


def at_0730(day):
    return datetime.datetime.combine(day, datetime.time(7, 30), tzinfo=SH)


class ReminderTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        opened = datetime.date(2022, 5, 1)
        # Monday 16 May: 1 working day ahead is Tue 17, 3 working days ahead is Thu 19.
        cls.due_tomorrow = make_item(w, deadline=datetime.date(2022, 5, 17), opened_on=opened)
        cls.due_thursday = make_item(w, deadline=datetime.date(2022, 5, 19), opened_on=opened)
        cls.due_later = make_item(w, deadline=datetime.date(2022, 5, 25), opened_on=opened)
        cls.red_k1 = make_item(w, deadline=datetime.date(2022, 5, 10), opened_on=opened)
        cls.red_k2 = make_item(w, problem=make_problem(w, unit=w.K2), lead_unit=w.K2, owner=w.dave,
                               deadline=datetime.date(2022, 5, 10), opened_on=opened)
        cls.closed_red = make_item(w, deadline=datetime.date(2022, 5, 10), opened_on=opened,
                                   status=RectificationItem.Status.CLOSED)

    def scan(self, day=MONDAY):
        with time_machine.travel(at_0730(day), tick=False), self.captureOnCommitCallbacks(execute=True):
            return tasks.daily_reminders.delay().get()

    def test_it_reminds_owners_of_items_due_within_1_and_3_working_days(self):
        sent = self.scan()
        self.assertEqual(sent, {"due_1": 1, "due_3": 1, "escalate": 2})
        owner_notes = Notification.objects.filter(recipient=self.w.carol).order_by("id")
        self.assertEqual([note.item for note in owner_notes], [self.due_tomorrow, self.due_thursday])
        self.assertIn("1个工作日内到期", owner_notes[0].message)
        self.assertIn("3个工作日内到期", owner_notes[1].message)
        self.assertIn("carol@example.cn", [address for message in mail.outbox for address in message.to])

    def test_it_escalates_red_items_to_the_supervisors_up_the_unit_chain(self):
        self.scan()
        escalations = Notification.objects.filter(message__startswith="逾期督办")
        # bob supervises the city above K1 and K2; dave supervises K2 only
        self.assertEqual(set(escalations.values_list("recipient__username", "item")),
                         {("bob", self.red_k1.pk), ("bob", self.red_k2.pk), ("dave", self.red_k2.pk)})
        self.assertIn("逾期4个工作日", escalations.filter(item=self.red_k1).first().message)
        digests = [m for m in mail.outbox if m.subject.startswith("【走流程台账】逾期整改措施督办")]
        self.assertEqual(sorted(m.to[0] for m in digests), ["bob@example.cn", "dave@example.cn"])

    def test_it_never_sends_the_same_reminder_twice(self):
        self.scan()
        notes, logs, mails = Notification.objects.count(), ReminderLog.objects.count(), len(mail.outbox)
        self.assertEqual(self.scan(), {"due_1": 0, "due_3": 0, "escalate": 0})
        self.assertEqual((Notification.objects.count(), ReminderLog.objects.count(), len(mail.outbox)),
                         (notes, logs, mails))

    def test_it_escalates_a_red_item_once_until_it_is_late_again(self):
        self.scan()
        tuesday = MONDAY + datetime.timedelta(days=1)
        self.assertEqual(self.scan(tuesday)["escalate"], 0)
        # red_k1's deadline was extended to Monday and missed again: a new lateness, escalated
        # again; due_tomorrow went red on Wednesday; red_k2 was escalated on Monday already.
        RectificationItem.objects.filter(pk=self.red_k1.pk).update(deadline=datetime.date(2022, 5, 16))
        wednesday = tuesday + datetime.timedelta(days=1)
        self.scan(wednesday)
        self.assertEqual(set(ReminderLog.objects.filter(kind="escalate", day=wednesday).values_list("item", flat=True)),
                         {self.red_k1.pk, self.due_tomorrow.pk})

    def test_claim_returns_only_the_rows_it_inserted(self):
        day = MONDAY
        self.assertEqual(claim([self.due_tomorrow.pk], ReminderLog.Kind.DUE_1, day), [self.due_tomorrow.pk])
        self.assertEqual(sorted(claim([self.due_tomorrow.pk, self.due_later.pk], ReminderLog.Kind.DUE_1, day)),
                         [self.due_later.pk])
        self.assertEqual(claim([], ReminderLog.Kind.DUE_1, day), [])
