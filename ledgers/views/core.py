"""Home page per role, scoped file downloads, in-app notifications."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .. import stamps
from ..cards import RED, YELLOW, card_clock
from ..models import Attachment, Notification, RectificationItem, Role, WalkSession, count_over_parts
from ..roles import manages_global_settings
from ..uploads import named_for_type
from ..workdays import provisional_years
from .common import get_visible_or_404


def _scope_counts(user, clock):
    """The four figures in one aggregate per part of the scope, each read from an index alone; kept
    under the stamps of what they count ("figures": items; "choices": units, the user's unit, the
    calendar) and the day, as cards turn with the date."""
    def count():
        return count_over_parts(
            RectificationItem.objects.open().visible_parts(user),
            open=Count("pk"), red=Count("pk", filter=clock.q(RED)), yellow=Count("pk", filter=clock.q(YELLOW)),
            closure_requested=Count("pk", filter=Q(status=RectificationItem.Status.CLOSURE_REQUESTED)))

    return stamps.kept("home-counts", ("choices", "figures"), (user.pk, clock.today.isoformat()), count)


@login_required
def home(request):
    user = request.user
    clock = card_clock()
    context = {"clock": clock}
    if user.has_role(Role.LEADER):
        context["recent_walks"] = (WalkSession.objects.visible_to(user).filter(leader=user)
                                   .select_related("service_item")[:5])
    if user.has_role(Role.OWNER):
        mine = (RectificationItem.objects.filter(owner=user).open()
                .select_related("problem", "unit", "lead_unit").order_by("deadline")[:20])
        context["my_items"] = [(item, clock.card(item), clock.days_overdue(item)) for item in mine]
    if user.has_role(Role.SUPERVISOR, Role.LEADER, Role.OFFICE, Role.ADMIN):
        context["scope_counts"] = _scope_counts(user, clock)
    if user.has_role(Role.ADMIN):
        context["provisional_years"] = provisional_years(clock.calendar, clock.today)
        context["can_enter_calendar"] = manages_global_settings(user)
    return render(request, "ledgers/home.html", context)


@login_required
def attachment(request, pk):
    item = get_visible_or_404(Attachment, request.user, pk=pk)
    try:
        handle = item.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    # The name's extension follows the type detected at upload, for rows stored before that rule too.
    response = FileResponse(handle, content_type=item.content_type, as_attachment=not item.is_image,
                            filename=named_for_type(item.original_name, item.content_type))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
def notifications(request):
    page = Paginator(Notification.objects.filter(recipient=request.user).select_related("item"), 30)
    return render(request, "ledgers/notifications.html", {"page": page.get_page(request.GET.get("page"))})


@login_required
@require_POST
def notifications_read(request):
    Notification.objects.filter(recipient=request.user, read_at__isnull=True).update(read_at=timezone.now())
    return redirect("notifications")


@login_required
def notification_open(request, pk):
    note = get_object_or_404(Notification, recipient=request.user, pk=pk)
    if note.read_at is None:
        note.read_at = timezone.now()
        note.save(update_fields=["read_at"])
    # Links are written by walkflow itself, but a stored URL is never trusted to leave the site.
    if note.url and url_has_allowed_host_and_scheme(note.url, allowed_hosts={request.get_host()},
                                                    require_https=request.is_secure()):
        return redirect(note.url)
    return redirect("notifications")


urlpatterns = [
    path("", home, name="home"),
    path("files/<int:pk>/", attachment, name="attachment"),
    path("notifications/", notifications, name="notifications"),
    path("notifications/read/", notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/", notification_open, name="notification_open"),
]
