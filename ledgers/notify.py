"""In-app notifications and e-mail, sent only once the change that caused them has committed."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from .models import Notification


def notify(recipients, message, *, item=None, url="", email=True):
    """Write a notification row for each recipient now (inside the caller's transaction) and
    send the e-mails after commit, so a rolled-back change never mails anybody."""
    recipients = [user for user in dict.fromkeys(recipients) if user is not None]
    if not recipients:
        return []
    url = url or (item.get_absolute_url() if item is not None else "")
    rows = Notification.objects.bulk_create(
        [Notification(recipient=user, item=item, message=message[:300], url=url) for user in recipients]
    )
    if email:
        addresses = [user.email for user in recipients if user.email]
        if addresses:
            transaction.on_commit(lambda: _send(addresses, message, url))
    return rows


def _send(addresses, message, url):
    body = f"{message}\n\n{url}" if url else message
    # fail_silently: a mail server that is down must not turn a committed change into an error page.
    send_mail(subject=f"【走流程台账】{message[:60]}", message=body, from_email=settings.DEFAULT_FROM_EMAIL,
              recipient_list=addresses, fail_silently=True)
