"""Single-use activation codes for imported users.

A code is 20 characters of base32 (100 bits), shown to the importing administrator once, valid for
`ACTIVATION_CODE_DAYS`. The database keeps its SHA-256 digest, which is enough for a code of that
entropy (a slow password hash protects guessable secrets). Until the administrator downloads
the codes, the code can be derived again from a random salt on its row and SECRET_KEY; the
download empties the salt, so from then on nobody can recover it.
"""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import ActivationCode


def _code(salt):
    mac = hmac.new(settings.SECRET_KEY.encode(), f"walkflow-activation:{salt}".encode(), hashlib.sha256).digest()
    letters = base64.b32encode(mac).decode()[:20]
    return "-".join(letters[i:i + 5] for i in range(0, 20, 5))


def normalise(code):
    return "".join(ch for ch in str(code).upper() if ch.isalnum())


def digest(code):
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def issue(users, batch, now=None):
    """A new code for each user; their older unused codes stop working."""
    now = now or timezone.now()
    expires = now + timezone.timedelta(days=getattr(settings, "ACTIVATION_CODE_DAYS", 14))
    ids = [user.pk for user in users]
    for start in range(0, len(ids), 500):
        ActivationCode.objects.filter(user_id__in=ids[start:start + 500], used_at__isnull=True).update(
            expires_at=now, salt="")
    rows = []
    for user in users:
        salt = secrets.token_hex(16)
        rows.append(ActivationCode(user=user, digest=digest(_code(salt)), salt=salt, batch=batch, created_at=now,
                                   expires_at=expires))
    ActivationCode.objects.bulk_create(rows, batch_size=1000)
    return rows


@transaction.atomic
def hand_out(batch):
    """[(user, code, expires_at)] of the batch's codes not yet handed out; afterwards none can be
    derived again. Empty when they were handed out already."""
    rows = list(ActivationCode.objects.select_for_update(of=("self",)).filter(batch=batch).exclude(salt="")
                .select_related("user", "user__unit").order_by("user__unit__path", "user__username"))
    ActivationCode.objects.filter(pk__in=[row.pk for row in rows]).update(salt="")
    return [(row.user, _code(row.salt), row.expires_at) for row in rows]


def pending(batch):
    return ActivationCode.objects.filter(batch=batch).exclude(salt="").count()


@transaction.atomic
def activate(username, code, password_form_factory):
    """The user whose code this is, with `password_form_factory(user)` valid and saved; None when
    the code is wrong, used or expired."""
    now = timezone.now()
    row = (ActivationCode.objects.select_for_update().usable(now).filter(digest=digest(code),
                                                                          user__username=username,
                                                                          user__is_active=True)
           .select_related("user").first())
    if row is None:
        return None, None
    form = password_form_factory(row.user)
    if not form.is_valid():
        return row.user, form
    form.save()
    ActivationCode.objects.filter(user=row.user, used_at__isnull=True).update(used_at=now, salt="")
    return row.user, form
