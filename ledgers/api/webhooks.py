"""Webhooks: an outbox of deliveries, written with the change, sent and retried from the table.

- `record_event` is called by ItemEvent.record, so every journal row of every change (services,
  walk submission, API intake) writes its deliveries in the change's own transaction;
  `red_cards` is called by the daily reminders scan for items it escalates.
- A delivery goes to the active endpoints whose unit sees the item: the item's unit or lead unit
  lies in the endpoint unit's subtree (the rule of RectificationItem.objects.visible_to).
- `sweep` sends what is due. Each row is claimed with a conditional UPDATE that moves its due
  time past a lease, so two sweeps at once (beat and a retry, two workers) never send one row
  twice at the same time. On failure the due time backs off exponentially; after
  WEBHOOK_MAX_ATTEMPTS the row is failed. At least once: receivers deduplicate on the delivery id.

Each request carries

    X-Walkflow-Event: item.closed
    X-Walkflow-Delivery: 6f1c…            (the same on every retry)
    X-Walkflow-Timestamp: 1767225600       (Unix seconds of this attempt)
    X-Walkflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
"""

import datetime
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import PATH_STEP, ItemEvent, RectificationItem
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)
Action = ItemEvent.Action
Status = RectificationItem.Status
LEASE = datetime.timedelta(minutes=2)  # longer than any attempt can take (WEBHOOK_TIMEOUT_SECONDS)
MAX_BACKOFF = datetime.timedelta(hours=6)
SWEEP_BATCH = 200
USER_AGENT = "walkflow-webhook/1"


def _chain(path):
    return [path[:i] for i in range(PATH_STEP + 1, len(path) + 1, PATH_STEP + 1)]


def endpoints_seeing(item):
    """Active endpoints of every unit that sees the item (its unit's or lead unit's ancestors)."""
    paths = set(_chain(item.unit.path)) | set(_chain(item.lead_unit.path))
    return WebhookEndpoint.objects.filter(is_active=True, unit__path__in=paths)


def events_for(event):
    if event.action == Action.CREATED:
        return [WebhookEvent.ITEM_CREATED]
    if event.from_status and event.to_status and event.from_status != event.to_status:
        moved = [WebhookEvent.STATUS_CHANGED]
        if event.to_status == Status.CLOSED:
            moved.append(WebhookEvent.CLOSED)
        return moved
    return []


def record_event(event):
    events = events_for(event)
    if events:
        enqueue(event.item, events, event=event)


def red_cards(items):
    """Items that turned red today (reminders.daily_scan): one delivery each, in the scan's transaction."""
    # item_payload reads the problem and its ticket: joined here, not two queries per red card.
    for item in RectificationItem.objects.filter(pk__in=[item.pk for item in items]).select_related(
            "unit", "lead_unit", "problem__external_ticket"):
        enqueue(item, [WebhookEvent.RED_CARD])


def enqueue(item, events, event=None):
    endpoints = [endpoint for endpoint in endpoints_seeing(item) if set(endpoint.events) & set(events)]
    if not endpoints:
        return []
    item_body = item_payload(item)
    rows = []
    for endpoint in endpoints:
        for name in events:
            if name not in endpoint.events:
                continue
            delivery = WebhookDelivery(endpoint=endpoint, event=name, item=item)
            body = {"event": name, "delivery_id": str(delivery.delivery_id),
                    "occurred_at": (event.at if event else timezone.now()).isoformat(), "item": item_body}
            if event is not None:
                body["action"] = event.action
                body["note"] = event.note
            delivery.body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            rows.append(delivery)
    WebhookDelivery.objects.bulk_create(rows)
    transaction.on_commit(kick)
    return rows


def item_payload(item):
    ticket = getattr(item.problem, "external_ticket", None) if item.problem_id else None
    return {"id": item.pk, "status": item.status, "deadline": item.deadline.isoformat(),
            "unit": item.unit.code, "lead_unit": item.lead_unit.code, "measure": item.measure,
            "version": item.version, "source": item.problem.source,
            "external_number": ticket.external_number if ticket else None,
            "closed_at": item.closed_at.isoformat() if item.closed_at else None}


def kick():
    """After commit: ask the worker for a sweep now (in-process without a broker); if the broker is
    down, beat's minute sweep sends the rows later."""
    from kombu.exceptions import OperationalError as BrokerUnavailable

    from ..tasks import deliver_webhooks

    try:
        deliver_webhooks.delay()
    except BrokerUnavailable:
        logger.warning("任务队列不可用：推送将由定时任务补发", exc_info=True)


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------


def sign(secret, timestamp, body):
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # Only the registered URL is ever called: a 3xx answer is a failed attempt, never followed.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url, body, headers, timeout):
    """The receiver's status code; raises OSError (URLError, timeouts) when there is no answer."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(1024)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def backoff(attempts):
    return min(datetime.timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)), MAX_BACKOFF)


def claim(pk, now):
    """True when this call took the row: a conditional UPDATE that moves its due time past the lease."""
    return WebhookDelivery.objects.filter(pk=pk, status=WebhookDelivery.Status.PENDING,
                                          next_attempt_at__lte=now).update(
        next_attempt_at=now + LEASE, attempts=F("attempts") + 1, last_attempt_at=now) == 1


def deliver(pk, now):
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=pk)
    endpoint = delivery.endpoint
    code, error = None, ""
    if not endpoint.is_active:
        error = _("接收地址已停用")
    else:
        body = delivery.body.encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   "X-Walkflow-Event": delivery.event, "X-Walkflow-Delivery": str(delivery.delivery_id),
                   "X-Walkflow-Timestamp": timestamp, "X-Walkflow-Signature": sign(endpoint.secret, timestamp, body)}
        try:
            code = post(endpoint.url, body, headers, settings.WEBHOOK_TIMEOUT_SECONDS)
        except (OSError, ValueError) as exc:  # refused, unreachable, timed out, malformed URL
            error = str(exc)[:300] or exc.__class__.__name__
    changes = {"last_status_code": code, "last_error": error if code is None else f"HTTP {code}"}
    if code is not None and 200 <= code < 300:
        changes.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, last_error="")
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or not endpoint.is_active:
        changes.update(status=WebhookDelivery.Status.FAILED)
    else:
        changes.update(next_attempt_at=now + backoff(delivery.attempts))
    WebhookDelivery.objects.filter(pk=pk).update(**changes)
    return changes.get("status", WebhookDelivery.Status.PENDING)


def sweep(now=None, limit=SWEEP_BATCH):
    """Send the due deliveries once; returns {status: count} of what this sweep sent."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    outcome = {}
    for pk in due:
        if not claim(pk, now):
            continue  # another sweep has it
        status = deliver(pk, now)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome
