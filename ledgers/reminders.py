"""The daily 07:30 scan: reminders before an item goes red, escalation once it is red.

- owners of open items due within 1 working day get a DUE_1 reminder, those due within 3 (but
  not within 1) a DUE_3 reminder, each at most once per item and day;
- a red item is escalated (督办) to the supervisors of its unit and of every unit above it, once
  per lateness: again only if its deadline was moved and it went red again.

Each reminder is first written as a ReminderLog row, with INSERT ... ON CONFLICT DO NOTHING on the
unique (item, kind, day); only the rows this run actually inserted (RETURNING) are notified. A rerun, a
retried task or two workers at once therefore never send the same reminder twice.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.translation import gettext as _

from .api import webhooks
from .models import RectificationItem, ReminderLog, Role, User
from .notify import notify
from .workdays import WorkCalendar

logger = logging.getLogger(__name__)
DIGEST_LINES = 30
CLAIM_BATCH = 500


def item_url(item):
    try:
        return item.get_absolute_url()
    except NoReverseMatch:  # the ledger pages are not installed: the notification still names the item
        return ""


def claim(item_ids, kind, day):
    """Insert the log rows; return the ids of the items whose row this call inserted.

    INSERT ... ON CONFLICT DO NOTHING RETURNING reports exactly the rows this statement wrote
    (PostgreSQL, and SQLite >= 3.35): under two concurrent scans each row goes to one of them.
    """
    inserted = []
    table = connection.ops.quote_name(ReminderLog._meta.db_table)
    now = timezone.now()
    for start in range(0, len(item_ids), CLAIM_BATCH):
        batch = item_ids[start:start + CLAIM_BATCH]
        values = ", ".join(["(%s, %s, %s, %s)"] * len(batch))
        params = [value for pk in batch for value in (pk, kind, day, now)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (item_id, kind, day, sent_at) VALUES {values} "
                f"ON CONFLICT (item_id, kind, day) DO NOTHING RETURNING item_id", params)
            inserted += [row[0] for row in cursor.fetchall()]
    return inserted


def daily_scan(today=None, calendar=None):
    """Run the scan for `today`; returns how many reminders of each kind were sent."""
    today = today or timezone.localdate()
    calendar = calendar or WorkCalendar()
    within_1 = calendar.add_working_days(today, 1).value
    within_3 = calendar.add_working_days(today, 3).value
    open_items = RectificationItem.objects.open()
    already_escalated = ReminderLog.objects.filter(item=OuterRef("pk"), kind=ReminderLog.Kind.ESCALATE,
                                                   day__gt=OuterRef("deadline"))
    selections = {
        ReminderLog.Kind.DUE_1: open_items.filter(deadline__gte=today, deadline__lte=within_1),
        ReminderLog.Kind.DUE_3: open_items.filter(deadline__gt=within_1, deadline__lte=within_3),
        ReminderLog.Kind.ESCALATE: open_items.filter(deadline__lt=today).exclude(Exists(already_escalated)),
    }
    sent = {}
    with transaction.atomic():
        for kind, queryset in selections.items():
            ids = claim(list(queryset.values_list("id", flat=True)), kind, today)
            items = list(RectificationItem.objects.filter(pk__in=ids).select_related("owner", "unit")
                         .order_by("deadline", "id"))
            if kind == ReminderLog.Kind.ESCALATE:
                escalate(items, today, calendar)
                webhooks.red_cards(items)
            else:
                remind_owners(items, kind)
            sent[kind] = len(items)
    logger.info("每日提醒 %s：%s", today, sent)
    return sent


def remind_owners(items, kind):
    window = 1 if kind == ReminderLog.Kind.DUE_1 else 3
    for item in items:
        message = _("临期提醒：整改措施“%(measure)s”的整改时限为%(deadline)s（%(n)d个工作日内到期），请抓紧整改并按时申请销号。") % {
            "measure": item.measure[:40], "deadline": f"{item.deadline:%Y-%m-%d}", "n": window}
        notify([item.owner], message, item=item, url=item_url(item))


def supervisors_by_path():
    supervisors = (User.objects.filter(groups__name=Role.SUPERVISOR, is_active=True, unit__isnull=False)
                   .select_related("unit").distinct())
    by_path = {}
    for user in supervisors:
        by_path.setdefault(user.unit.path, []).append(user)
    return by_path


def escalate(items, today, calendar):
    """A notification per item to each supervisor up the unit chain, and one digest e-mail each."""
    if not items:
        return
    by_path = supervisors_by_path()
    digests = {}
    for item in items:
        path = item.unit.path
        recipients = [user for prefix, users in by_path.items() if path.startswith(prefix) for user in users]
        if not recipients:
            continue
        overdue = calendar.working_days_overdue(item.deadline, today).value
        message = _("逾期督办：%(unit)s 整改措施“%(measure)s”已超过整改时限%(deadline)s，逾期%(n)d个工作日，请督促整改。") % {
            "unit": item.unit.name, "measure": item.measure[:40], "deadline": f"{item.deadline:%Y-%m-%d}",
            "n": overdue}
        # One e-mail per supervisor, not one per item: a province supervisor may be sent hundreds.
        notify(recipients, message, item=item, url=item_url(item), email=False)
        for user in recipients:
            digests.setdefault(user, []).append(message)
    for user, messages in digests.items():
        if user.email:
            transaction.on_commit(lambda user=user, messages=messages: _send_digest(user, messages))


def _send_digest(user, messages):
    lines = messages[:DIGEST_LINES]
    if len(messages) > DIGEST_LINES:
        lines.append(_("……另有%(n)d项，请登录系统查看。") % {"n": len(messages) - DIGEST_LINES})
    send_mail(subject=_("【走流程台账】逾期整改措施督办（%(n)d项）") % {"n": len(messages)}, message="\n".join(lines),
              from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[user.email], fail_silently=True)
