"""The five roles as Django groups. Views check roles by group name (`user.has_role`); the
permissions below only decide what each role may open in the Django admin."""

from django.contrib.auth.models import Group, Permission

from .models import Role

ADMIN_MODELS = ["unit", "user", "calendaroverride", "serviceitem", "campaign", "subcategory", "walksession",
                "problem", "rectificationitem", "itemevent", "closurerecord", "extensionrequest", "attachment",
                "notification", "report", "savedfilter", "reminderlog", "ledgerexport"]
OFFICE_MODELS = ["serviceitem", "campaign", "subcategory", "calendaroverride"]
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
        Permission.objects.filter(content_type__app_label="ledgers", content_type__model__in=OFFICE_MODELS)
    )
    return groups


def grant(user, *roles):
    groups = {group.name: group for group in Group.objects.filter(name__in=[str(r) for r in roles])}
    missing = {str(r) for r in roles} - set(groups)
    if missing:
        groups.update(ensure_groups())
    user.groups.add(*[groups[str(role)] for role in roles])
    user.__dict__.pop("roles", None)
