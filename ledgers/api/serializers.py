"""The shapes the API reads and writes. Input serializers check types and lengths only; what a
value may name (a unit, an owner, an item in scope) is decided in intake.py and services.py.
Items and problems are written out by rows.py; their serializers here describe that shape."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..cards import CARD_CHOICES
from ..models import ClosureRecord, ItemEvent, Problem, RectificationItem
from ..walk_submission import MAX_PHOTOS_PER_PROBLEM, MAX_WORKING_DAYS

# The channels other platforms push from; a walk-through's problems come through the tablet.
PUSHED_SOURCES = [(value, label) for value, label in Problem.Source.choices
                  if value in ("hotline", "rating", "complaint_window", "deputy", "other")]


class FileInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, label=_("文件名"))
    content_base64 = serializers.CharField(label=_("文件内容（Base64）"), trim_whitespace=False,
                                           max_length=(settings.UPLOAD_MAX_BYTES * 4) // 3 + 8)


class ItemInSerializer(serializers.Serializer):
    lead_unit = serializers.CharField(max_length=32, label=_("牵头部门（单位代码）"))
    owner = serializers.CharField(max_length=150, required=False, label=_("责任人（用户名）"),
                                  help_text=_("省略时为令牌的接口账号（需有 items:write 权限）。"))
    measure = serializers.CharField(max_length=5000, label=_("整改措施"))
    deadline = serializers.DateField(required=False, label=_("整改时限（日期）"))
    deadline_working_days = serializers.IntegerField(required=False, min_value=1, max_value=MAX_WORKING_DAYS,
                                                     label=_("整改时限（工作日数，自今天起）"))

    def validate(self, data):
        if ("deadline" in data) == ("deadline_working_days" in data):
            raise serializers.ValidationError({"deadline": _("请填写整改时限：日期或工作日数，二选一。")})
        return data


class ProblemInSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=PUSHED_SOURCES, label=_("问题来源"))
    external_number = serializers.RegexField(r"^[\w\-./:#]+$", max_length=64, label=_("外部工单编号"),
                                             error_messages={"invalid": _("工单编号只能包含字母、数字和 - _ . / : #。")})
    unit = serializers.CharField(max_length=32, label=_("发现单位（单位代码）"))
    service_item = serializers.CharField(max_length=200, required=False, label=_("涉及事项（事项编码或名称）"))
    campaign = serializers.IntegerField(required=False, min_value=1, label=_("专项行动编号"),
                                        help_text=_("省略时为单位当前进行中的专项行动。"))
    category = serializers.ChoiceField(choices=Problem.Category.choices, label=_("问题类别"))
    description = serializers.CharField(max_length=5000, label=_("问题描述"))
    received_at = serializers.DateTimeField(label=_("接收时间"))
    photos = FileInSerializer(many=True, required=False, max_length=MAX_PHOTOS_PER_PROBLEM, label=_("照片"))
    item = ItemInSerializer(required=False, label=_("整改措施"))


class UnitRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class ProblemOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    external_number = serializers.CharField(allow_null=True)
    category = serializers.CharField()
    description = serializers.CharField()
    unit = UnitRefSerializer()
    found_at = serializers.DateTimeField()


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RectificationItem.Status.choices)
    status_label = serializers.CharField()
    card = serializers.ChoiceField(choices=CARD_CHOICES)
    measure = serializers.CharField()
    unit = UnitRefSerializer()
    lead_unit = UnitRefSerializer()
    owner = serializers.CharField()
    opened_on = serializers.DateField()
    deadline = serializers.DateField()
    closed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    problem = ProblemOutSerializer()
    url = serializers.CharField()


class EventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=ItemEvent.Action.choices)
    action_label = serializers.CharField(source="get_action_display")
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor = serializers.CharField(source="actor.display_name", allow_null=True, default=None)
    note = serializers.CharField()


class ItemDetailSerializer(ItemSerializer):
    timeline = EventSerializer(many=True)


class ItemPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ItemSerializer(many=True)


class ProblemCreatedSerializer(serializers.Serializer):
    problem = ProblemOutSerializer()
    item = ItemSerializer(allow_null=True)


class VersionedSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1, label=_("版本"),
                                       help_text=_("读取时的版本；已被他人修改时返回 409，未做任何更改。"))


class ProgressInSerializer(VersionedSerializer):
    note = serializers.CharField(max_length=5000, label=_("整改进展"))


def figure(name):
    """An optional before/after figure of a closure (时限、材料、环节、跑动次数)."""
    return serializers.IntegerField(required=False, min_value=0, max_value=100000,
                                    label=ClosureRecord._meta.get_field(name).verbose_name)


class ClosureInSerializer(VersionedSerializer):
    evidence = serializers.CharField(max_length=10000, label=_("整改情况及佐证说明"))
    files = FileInSerializer(many=True, required=False, max_length=9, label=_("佐证材料"))
    time_limit_before = figure("time_limit_before")
    time_limit_after = figure("time_limit_after")
    materials_before = figure("materials_before")
    materials_after = figure("materials_after")
    steps_before = figure("steps_before")
    steps_after = figure("steps_after")
    trips_before = figure("trips_before")
    trips_after = figure("trips_after")


class ApproveInSerializer(VersionedSerializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, label=_("审核意见"))


class ReturnInSerializer(VersionedSerializer):
    reason = serializers.CharField(max_length=5000, label=_("退回理由"))


class FigureRowSerializer(serializers.Serializer):
    unit = UnitRefSerializer(allow_null=True)
    label = serializers.CharField()
    walks = serializers.IntegerField()
    leader_times = serializers.IntegerField()
    top_leaders = serializers.IntegerField()
    service_items = serializers.IntegerField()
    must_walk_covered = serializers.IntegerField()
    problems = serializers.IntegerField()
    by_category = serializers.DictField(child=serializers.IntegerField())
    on_spot = serializers.IntegerField()
    items_created = serializers.IntegerField()
    closed = serializers.IntegerField()
    items_total = serializers.IntegerField()
    closed_total = serializers.IntegerField()
    open = serializers.IntegerField()
    red = serializers.IntegerField()
    yellow = serializers.IntegerField()
    closure_percent = serializers.FloatField(allow_null=True)
    avg_close_days = serializers.FloatField(allow_null=True)
    time_limit_saved = serializers.IntegerField()
    materials_cut = serializers.IntegerField()
    steps_cut = serializers.IntegerField()
    trips_cut = serializers.IntegerField()


class PeriodSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()


class FiguresSerializer(serializers.Serializer):
    scope = UnitRefSerializer()
    period = PeriodSerializer()
    as_of = serializers.DateField()
    must_walk_total = serializers.IntegerField()
    total = FigureRowSerializer()
    rows = FigureRowSerializer(many=True)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField(), required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()
