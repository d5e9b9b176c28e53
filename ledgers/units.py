"""Changes to the unit tree that must keep every materialised path right."""

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr

from .models import Unit


def create_unit(*, code, name, parent=None, level, kind=Unit.Kind.REGION, **fields):
    unit = Unit(code=code, name=name, parent=parent, level=level, kind=kind, **fields)
    unit.assign_path()
    unit.save()
    return unit


@transaction.atomic
def move_unit(unit, new_parent):
    """Hang `unit` (and its whole subtree) under `new_parent`, rewriting the paths in one UPDATE."""
    old_path = Unit.objects.select_for_update().get(pk=unit.pk).path
    if new_parent is not None and new_parent.path.startswith(old_path):
        raise ValueError("a unit cannot move under itself")
    unit.parent = new_parent
    unit.assign_path()
    new_path = unit.path
    depth_change = new_path.count(".") - old_path.count(".")
    unit.save()
    Unit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        depth=F("depth") + depth_change,
    )
    return unit
