"""The five roles as Django groups. Views check roles by group name (`user.has_role`); the
permissions below only decide what each role may open in the Django admin."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.db.models.expressions import RawSQL

from .models import Role

ADMIN_MODELS = ["unit", "user", "calendaroverride", "serviceitem", "campaign", "subcategory", "walksession",
                "problem", "rectificationitem", "itemevent", "closurerecord", "extensionrequest", "attachment",
                "notification", "report", "savedfilter", "reminderlog", "ledgerexport",
                "apitoken", "webhookendpoint", "webhookdelivery", "externalticket"]
ADMIN_MODELS += ["importbatch", "importmapping", "importkey", "activationcode"]  # ledgers/imports: read-only
OFFICE_MODELS = ["serviceitem", "campaign", "subcategory", "calendaroverride"]
# Read-only for office staff: the unit pickers of the campaign and service item forms search units
# through the unit admin, which answers only to those who may view units.
OFFICE_VIEWS = ["unit"]
# The circular's letterhead, drafts, issued versions and journal (ledgers/reports/models.py).
ADMIN_MODELS += ["circularsettings", "circulardraft", "issuedcircular", "circularevent"]


def ensure_groups():
    """Create the role groups and give them their admin permissions; safe to run again."""
    groups = {}
    for role in Role:
        groups[role.value], _ = Group.objects.get_or_create(name=role.value)
    groups[Role.ADMIN.value].permissions.set(
        Permission.objects.filter(content_type__app_label="ledgers", content_type__model__in=ADMIN_MODELS)
    )
    groups[Role.OFFICE.value].permissions.set(
        Permission.objects.filter(content_type__app_label="ledgers").filter(
            Q(content_type__model__in=OFFICE_MODELS)
            | Q(content_type__model__in=OFFICE_VIEWS, codename__startswith="view_"))
    )
    return groups


def grant(user, *roles):
    groups = {group.name: group for group in Group.objects.filter(name__in=[str(r) for r in roles])}
    missing = {str(r) for r in roles} - set(groups)
    if missing:
        groups.update(ensure_groups())
    user.groups.add(*[groups[str(role)] for role in roles])
    user.__dict__.pop("roles", None)


def manages_global_settings(user):
    """Calendar overrides and sub-categories apply to every unit of the province (they move every
    red and yellow card, every count by category), so only a superuser or an administrator of the
    province itself (the admin role on a root unit) sets them; cities and office staff read them."""
    if user.is_superuser:
        return True
    return (user.is_active and user.is_staff and user.has_role(Role.ADMIN)
            and user.unit_id is not None and user.unit.parent_id is None)


def outranks(target, actor):
    """Whether `target` holds anything `actor` does not: such an account (a superuser above all) is
    changed only by a superuser, or a password reset would hand the actor its privileges."""
    return target.is_superuser or not target.get_all_permissions() <= actor.get_all_permissions()


def role_label(group):
    """A role group by its Chinese name (the group itself is named by the role's code)."""
    return str(Role(group.name).label) if group.name in Role.values else group.name


# user id -> (group names, the unit's field values), for one "choices" stamp at a time.
_known_users = {"stamp": None, "users": {}}
KNOWN_USERS_MAX = 50_000


# The header's unread count, read with the user row: every page shows it. Written as SQL because
# the ORM's own subquery costs as much Python to build as the query it saves.
UNREAD = RawSQL('SELECT COUNT(*) FROM ledgers_notification n WHERE n.recipient_id = "ledgers_user"."id" '
                "AND n.read_at IS NULL", ())


class UserBackend(ModelBackend):
    """Django's model backend; the signed-in user's roles and unit are kept per process under the
    "choices" stamp, which the database renews with every change to groups, memberships, units
    and users' unit (migration 0006). Every page needs all three: read each time they cost two
    queries more than the user row, about a third of a simple page's time."""

    def get_user(self, user_id):
        from . import stamps
        from .models import Unit, User

        try:
            user = User._default_manager.annotate(unread_notifications=UNREAD).get(pk=user_id)
        except User.DoesNotExist:
            return None
        if not self.user_can_authenticate(user):
            return None
        stamp = stamps.current("choices")
        if _known_users["stamp"] != stamp or len(_known_users["users"]) > KNOWN_USERS_MAX:
            _known_users.update(stamp=stamp, users={})
        known = _known_users["users"].get(user.pk)
        if known is None or (known[1] or {}).get("id") != user.unit_id:  # the stamp covers unit_id too
            unit = user.unit if user.unit_id else None
            fields = {f.attname: getattr(unit, f.attname) for f in Unit._meta.concrete_fields} if unit else None
            known = (frozenset(user.groups.values_list("name", flat=True)), fields)
            _known_users["users"][user.pk] = known
        names, unit_fields = known
        if unit_fields is not None:
            user.unit = Unit(**unit_fields)  # a fresh instance: nothing a request changes is kept
        names = set(names) | ({Role.ADMIN.value} if user.is_superuser else set())
        user.__dict__["roles"] = frozenset(names & set(Role.values))  # User.roles, a cached_property
        return user
