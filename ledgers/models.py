"""The ledger of the 走流程、解难题、优服务 campaign.

Units form a tree stored with a materialised path, so "this unit and everything under it" is one
indexed prefix query. Every object a user can open hangs off a unit, and every queryset that a
view, export or task shows to a user goes through a `visible_to(user)` method.
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from .inputs import validate_sane_date

PATH_STEP = 4  # digits per level of Unit.path: 9,999 children per unit is plenty for a province


class Role(models.TextChoices):
    """Roles are Django groups with these names; permissions hang off the groups."""

    LEADER = "leader", _("领导")
    SUPERVISOR = "supervisor", _("督办人员")
    OWNER = "owner", _("责任人")
    OFFICE = "office", _("办公室人员")
    ADMIN = "admin", _("系统管理员")


# ---------------------------------------------------------------------------------------------
# Organisation
# ---------------------------------------------------------------------------------------------


class UnitQuerySet(models.QuerySet):
    def subtree(self, unit):
        return self.filter(path__startswith=unit.path)

    def get_by_natural_key(self, code):
        return self.get(code=code)


class Unit(models.Model):
    class Level(models.TextChoices):
        PROVINCE = "province", _("省")
        CITY = "city", _("市州")
        COUNTY = "county", _("县市区")
        TOWNSHIP = "township", _("乡镇街道")
        VILLAGE = "village", _("村社区")

    class Kind(models.TextChoices):
        REGION = "region", _("地区")
        DEPARTMENT = "department", _("部门")

    code = models.CharField(_("单位代码"), max_length=32, unique=True)
    name = models.CharField(_("单位名称"), max_length=100)
    short_name = models.CharField(_("简称"), max_length=40, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.REGION)
    # "0001.0003.0012." — the parent's path plus this unit's zero-padded sibling number.
    # Indexed (on PostgreSQL Django adds a varchar_pattern_ops index for LIKE 'prefix%').
    path = models.CharField(_("路径"), max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(_("深度"), editable=False, default=0)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = UnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(condition=Q(level__in=["province", "city", "county", "township", "village"]),
                                   name="unit_level_valid"),
            models.CheckConstraint(condition=Q(kind__in=["region", "department"]), name="unit_kind_valid"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.parent_id and self.pk:
            if self.parent.path.startswith(self.path):
                raise ValidationError({"parent": _("上级单位不能是本单位或其下级单位。")})

    def assign_path(self):
        """Give a new unit its path: next free sibling number under the parent."""
        prefix = self.parent.path if self.parent_id else ""
        siblings = Unit.objects.filter(parent_id=self.parent_id).exclude(pk=self.pk)
        last = siblings.order_by("-path").values_list("path", flat=True).first()
        number = int(last[len(prefix):len(prefix) + PATH_STEP]) + 1 if last else 1
        self.path = f"{prefix}{number:0{PATH_STEP}d}."
        self.depth = self.path.count(".") - 1

    def contains(self, other):
        return other is not None and other.path.startswith(self.path)

    def natural_key(self):
        return (self.code,)


class UserQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(_scope_q(user, "unit"))


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    unit = models.ForeignKey(Unit, verbose_name=_("所属单位"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="users")
    title = models.CharField(_("职务"), max_length=60, blank=True)
    phone = models.CharField(_("电话"), max_length=30, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self):
        return User.name_of(self.last_name, self.first_name, self.username)

    @staticmethod
    def name_of(last_name, first_name, username):
        """A person as pages name them (姓名, else the user name), for rows read as plain values."""
        return f"{last_name}{first_name}".strip() or username

    @property
    def display_name(self):
        return str(self)

    @cached_property
    def roles(self):
        if not self.is_authenticated:
            return frozenset()
        names = set(self.groups.values_list("name", flat=True))
        if self.is_superuser:
            names.add(Role.ADMIN.value)
        return frozenset(names & set(Role.values))

    def has_role(self, *roles):
        return any(role in self.roles for role in roles)

    def unit_path(self):
        """The prefix of everything this user may see; a user without a unit sees nothing."""
        return self.unit.path if self.unit_id else None


def _scope_q(user, *unit_fields):
    """Q for "any of these unit fields lies in the user's subtree"; matches nothing without a unit.

    Written as `unit_id IN (SELECT id FROM unit WHERE path LIKE 'prefix%')` rather than a join per
    field: with two unit fields OR-ed, PostgreSQL then filters one table with a hashed subplan
    instead of joining and sorting every row (100,000 items: page ids 70 -> 35 ms, counts 114 -> 37 ms).
    """
    path = user.unit_path() if user.is_authenticated else None
    if path is None:
        return Q(pk__in=[])
    subtree = Unit.objects.filter(path__startswith=path).values("pk")
    condition = Q()
    for field in unit_fields:
        condition |= Q(**{f"{field}_id__in": subtree})
    return condition


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


class CalendarOverride(models.Model):
    """A day set by an administrator from a State Council notice, winning over both packages."""

    date = models.DateField(_("日期"), unique=True, validators=[validate_sane_date])
    is_workday = models.BooleanField(_("是否工作日"), help_text=_("勾选：调休上班日；不勾选：放假日。"))
    source = models.CharField(_("依据（国务院办公厅通知）"), max_length=200)
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now)

    class Meta:
        verbose_name = _("节假日调整")
        verbose_name_plural = _("节假日调整")
        ordering = ["date"]

    def __str__(self):
        kind = _("上班") if self.is_workday else _("放假")
        return f"{self.date:%Y-%m-%d} {kind}"


# ---------------------------------------------------------------------------------------------
# Campaigns and service items
# ---------------------------------------------------------------------------------------------


class ServiceItemQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Items of the user's subtree, plus those of the units above it (a county walks a
        provincial item); never those of a sibling branch."""
        if not user.is_authenticated or not user.unit_id:
            return self.none()
        path = user.unit.path
        ancestors = [path[:i] for i in range(PATH_STEP + 1, len(path) + 1, PATH_STEP + 1)]
        # The province's common catalogue (事项目录) is shared by every unit of the province, whichever
        # branch keeps it: a county leader walks 取水许可审批 although the catalogue sits with a province office.
        catalogue = ~Q(catalogue_level="") & Q(competent_unit__path__startswith=path[:PATH_STEP + 1])
        return self.filter(Q(competent_unit__path__startswith=path) | Q(competent_unit__path__in=ancestors) | catalogue)

    def get_by_natural_key(self, name, unit_code):
        return self.get(name=name, competent_unit__code=unit_code)


class ServiceItem(models.Model):
    class Tag(models.TextChoices):
        HIGH_FREQUENCY = "high_frequency", _("高频")
        URGENT = "urgent", _("急难愁盼")
        KEY = "key", _("重点难点")
        ONE_THING = "one_thing", _("一件事一次办")

    class Origin(models.TextChoices):
        CATALOGUE = "catalogue", _("政务服务事项清单")
        CAMPAIGN = "campaign", _("行动方案确定")
        ADDED_ON_WALK = "added_on_walk", _("走流程时新增")

    name = models.CharField(_("事项名称"), max_length=200)
    code = models.CharField(_("事项编码"), max_length=64, blank=True)
    competent_unit = models.ForeignKey(Unit, verbose_name=_("主管单位"), on_delete=models.PROTECT,
                                       related_name="service_items")
    tags = models.JSONField(_("标签"), default=list, blank=True)
    origin = models.CharField(_("来源"), max_length=20, choices=Origin.choices, default=Origin.CATALOGUE)
    time_limit_days = models.PositiveIntegerField(_("承诺时限（工作日）"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    catalogue_level = models.CharField(
        _("事项目录层级"), max_length=16, choices=Unit.Level.choices, blank=True,
        help_text=_("列入全省统一事项目录、由该层级各单位办理的事项：全省各单位走流程时均可选用。"))

    objects = ServiceItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("政务服务事项")
        verbose_name_plural = _("政务服务事项")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["competent_unit", "name"], name="service_item_unique_name_per_unit"),
        ]

    def __str__(self):
        return self.name

    def tag_labels(self):
        labels = dict(self.Tag.choices)
        return [labels.get(tag, tag) for tag in self.tags]

    def natural_key(self):
        return (self.name, *self.competent_unit.natural_key())

    natural_key.dependencies = ["ledgers.unit"]


class CampaignQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated or not user.unit_id:
            return self.none()
        path = user.unit.path
        ancestors = [path[:i] for i in range(PATH_STEP + 1, len(path) + 1, PATH_STEP + 1)]
        return self.filter(Q(unit__path__startswith=path) | Q(unit__path__in=ancestors))

    def get_by_natural_key(self, name):
        return self.get(name=name)

    def current(self, today=None):
        today = today or timezone.localdate()
        return self.filter(start_date__lte=today).filter(Q(end_date__isnull=True) | Q(end_date__gte=today))


class Campaign(models.Model):
    name = models.CharField(_("行动名称"), max_length=200)
    unit = models.ForeignKey(Unit, verbose_name=_("组织单位"), on_delete=models.PROTECT, related_name="campaigns")
    plan_document = models.CharField(_("行动方案文号"), max_length=200, blank=True)
    description = models.TextField(_("说明"), blank=True)
    start_date = models.DateField(_("开始日期"), validators=[validate_sane_date])
    end_date = models.DateField(_("结束日期"), null=True, blank=True, validators=[validate_sane_date])
    must_walk_items = models.ManyToManyField(ServiceItem, verbose_name=_("必走事项"), blank=True,
                                             related_name="must_walk_in")
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("专项行动")
        verbose_name_plural = _("专项行动")
        ordering = ["-start_date", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                                   name="campaign_end_after_start"),
        ]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.name,)


class SubCategoryManager(models.Manager):
    def get_by_natural_key(self, category, name):
        return self.get(category=category, name=name)


class SubCategory(models.Model):
    """A finer, office-configurable split of a problem category (吉首: 办理流程有待优化 …)."""

    category = models.CharField(_("问题类别"), max_length=20, choices=[])  # choices set below
    name = models.CharField(_("细分类名称"), max_length=60)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = SubCategoryManager()

    class Meta:
        verbose_name = _("问题细分类")
        verbose_name_plural = _("问题细分类")
        ordering = ["category", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["category", "name"], name="subcategory_unique_name")]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.category, self.name)


# ---------------------------------------------------------------------------------------------
# Walk-throughs and problems
# ---------------------------------------------------------------------------------------------


class WalkSessionQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(_scope_q(user, "unit"))


class WalkSession(models.Model):
    class Identity(models.TextChoices):
        APPLICANT = "applicant", _("办事群众")
        WINDOW_STAFF = "window_staff", _("窗口工作人员")
        INSPECTOR = "inspector", _("执法人员")
        AGENT = "agent", _("帮代办")
        ACCOMPANY = "accompany", _("陪同办")

    class Way(models.TextChoices):
        ON_SITE = "on_site", _("现场走")
        ONLINE = "online", _("网上走")
        MOBILE = "mobile", _("掌上走")
        HOTLINE = "hotline", _("热线走")
        GRASSROOTS = "grassroots", _("基层走")
        SIMULATED = "simulated", _("模拟走")
        UNANNOUNCED = "unannounced", _("暗访")
        FAULT_FINDING = "fault_finding", _("挑刺式")
        SELF_CHECK = "self_check", _("自查式")
        REVERSE = "reverse", _("倒推督导式")

    class LeaderRank(models.TextChoices):
        TOP = "top", _("一把手")
        LEADERSHIP = "leadership", _("班子成员")
        DIVISION = "division", _("处室（股室）负责人")
        DEPUTY = "deputy", _("人大代表/政协委员")
        OTHER = "other", _("其他")

    client_uuid = models.UUIDField(_("客户端编号"), unique=True, default=uuid.uuid4, editable=False)
    # Digest of the submitted content, to tell an identical resend (200) from a conflicting one (409).
    submission_digest = models.CharField(_("提交摘要"), max_length=64, blank=True, editable=False)
    campaign = models.ForeignKey(Campaign, verbose_name=_("专项行动"), on_delete=models.PROTECT,
                                 related_name="walks")
    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.PROTECT, related_name="walks")
    service_item = models.ForeignKey(ServiceItem, verbose_name=_("体验事项"), on_delete=models.PROTECT,
                                     related_name="walks")
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("走流程领导"), on_delete=models.PROTECT,
                               related_name="walks")
    leader_rank = models.CharField(_("领导身份"), max_length=20, choices=LeaderRank.choices,
                                   default=LeaderRank.TOP)
    companions = models.CharField(_("同行人员"), max_length=300, blank=True)
    companion_count = models.PositiveSmallIntegerField(_("同行人数"), default=0)
    deputy_count = models.PositiveSmallIntegerField(_("其中人大代表、政协委员人数"), default=0)
    identity = models.CharField(_("体验身份"), max_length=20, choices=Identity.choices)
    way = models.CharField(_("走流程方式"), max_length=20, choices=Way.choices)
    place = models.CharField(_("地点"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("开始时间"), validators=[validate_sane_date])
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True, validators=[validate_sane_date])
    notes = models.TextField(_("体验情况"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("录入人"), on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now)

    objects = WalkSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("走流程记录")
        verbose_name_plural = _("走流程记录")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["unit", "started_at"], name="walk_unit_started_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                                   name="walk_end_after_start"),
            models.CheckConstraint(condition=Q(deputy_count__lte=F("companion_count")),
                                   name="walk_deputies_within_companions"),
        ]

    def __str__(self):
        return f"{self.service_item} · {self.leader} · {timezone.localtime(self.started_at):%Y-%m-%d}"

    def get_absolute_url(self):
        return reverse("walk_detail", args=[self.pk])


class ProblemQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(_scope_q(user, "unit", "responsible_unit"))


class Problem(models.Model):
    class Source(models.TextChoices):
        WALK = "walk", _("走流程发现")
        HOTLINE = "hotline", _("12345热线")
        RATING = "rating", _("好差评")
        COMPLAINT_WINDOW = "complaint_window", _("“办不成事”反映窗口")
        QUESTIONNAIRE = "questionnaire", _("问卷调查")
        UNANNOUNCED = "unannounced", _("暗访")
        DEPUTY = "deputy", _("代表委员建议")
        OTHER = "other", _("其他渠道")

    class Category(models.TextChoices):
        SYSTEM = "system", _("系统技术问题")
        PROCESS = "process", _("业务流程问题")
        COORDINATION = "coordination", _("协调联动问题")
        WINDOW = "window", _("窗口建设问题")

    class Resolution(models.TextChoices):
        ON_SPOT = "on_spot", _("立行立改")
        LEDGER = "ledger", _("列入整改台账")

    walk = models.ForeignKey(WalkSession, verbose_name=_("走流程记录"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="problems")
    campaign = models.ForeignKey(Campaign, verbose_name=_("专项行动"), on_delete=models.PROTECT,
                                 related_name="problems")
    unit = models.ForeignKey(Unit, verbose_name=_("发现单位"), on_delete=models.PROTECT, related_name="problems")
    service_item = models.ForeignKey(ServiceItem, verbose_name=_("涉及事项"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="problems")
    source = models.CharField(_("问题来源"), max_length=20, choices=Source.choices, default=Source.WALK)
    category = models.CharField(_("问题类别"), max_length=20, choices=Category.choices)
    subcategory = models.ForeignKey(SubCategory, verbose_name=_("细分类"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="problems")
    description = models.TextField(_("问题描述"))
    responsible_unit = models.ForeignKey(Unit, verbose_name=_("责任单位"), on_delete=models.PROTECT,
                                         related_name="problems_responsible")
    resolution = models.CharField(_("处理方式"), max_length=20, choices=Resolution.choices,
                                  default=Resolution.LEDGER)
    on_spot_action = models.TextField(_("立行立改措施"), blank=True)
    found_at = models.DateTimeField(_("发现时间"), default=timezone.now, validators=[validate_sane_date])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("录入人"), on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now)

    objects = ProblemQuerySet.as_manager()

    class Meta:
        verbose_name = _("问题")
        verbose_name_plural = _("问题")
        ordering = ["-found_at"]
        indexes = [
            models.Index(fields=["unit", "found_at"], name="problem_unit_found_idx"),
            models.Index(fields=["campaign", "found_at"], name="problem_campaign_found_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(category__in=["system", "process", "coordination", "window"]),
                                   name="problem_category_valid"),
            models.CheckConstraint(condition=Q(resolution__in=["on_spot", "ledger"]), name="problem_resolution_valid"),
            models.CheckConstraint(condition=~Q(resolution="on_spot") | ~Q(on_spot_action=""),
                                   name="problem_on_spot_has_action"),
        ]

    def __str__(self):
        return self.description[:40]

    def clean(self):
        if self.resolution == self.Resolution.ON_SPOT and not self.on_spot_action.strip():
            raise ValidationError({"on_spot_action": _("立行立改的问题请填写已采取的措施。")})
        if self.subcategory_id and self.subcategory.category != self.category:
            raise ValidationError({"subcategory": _("细分类与问题类别不一致。")})


SubCategory._meta.get_field("category").choices = Problem.Category.choices


# ---------------------------------------------------------------------------------------------
# The rectification ledger
# ---------------------------------------------------------------------------------------------


def count_over_parts(parts, **counts):
    """Counts (Count or Sum aggregates) over the union of disjoint querysets, one query each."""
    totals = dict.fromkeys(counts, 0)
    for part in parts:
        for name, value in part.order_by().aggregate(**counts).items():
            totals[name] += value or 0
    return totals


def _item_scope(user):
    """The conditions, any of which makes an item visible to the user (none for anonymous)."""
    if not user.is_authenticated:
        return []
    path = user.unit_path()
    if path is None:
        return [Q(owner_id=user.pk)]
    return [Q(unit_path__startswith=path), Q(lead_path__startswith=path), Q(owner_id=user.pk)]


class RectificationItemQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Items whose unit or lead unit lies in the user's subtree, plus the user's own items.

        Read from the paths copied onto each item (`unit_path`, `lead_path`): two prefix ranges
        served by an index each, instead of two sub-selects tested on every row."""
        conditions = _item_scope(user)
        if not conditions:
            return self.none()
        either = Q()
        for condition in conditions:
            either |= condition
        return self.filter(either)

    def visible_parts(self, user):
        """visible_to() cut into disjoint parts (by unit; by lead unit only; owned only), for
        counting: each part is one index range that PostgreSQL reads without the table (an index-only
        scan, 1-2 ms for a city), where the three OR-ed together make it read every row of the scope.
        The sum over the parts is the count of visible_to()."""
        parts, before = [], Q()
        for condition in _item_scope(user):
            parts.append(self.filter(condition & ~before) if before else self.filter(condition))
            before |= condition
        return parts

    def open(self):
        return self.filter(status__in=RectificationItem.OPEN_STATUSES)

    def overdue(self, today=None):
        return self.open().filter(deadline__lt=today or timezone.localdate())


class RectificationItem(models.Model):
    class Kind(models.TextChoices):
        IMMEDIATE = "immediate", _("立即整改")
        TIME_LIMITED = "time_limited", _("限期整改")
        LONG_TERM = "long_term", _("长期坚持")

    class Status(models.TextChoices):
        OPEN = "open", _("待整改")
        IN_PROGRESS = "in_progress", _("整改中")
        CLOSURE_REQUESTED = "closure_requested", _("申请销号")
        CLOSED = "closed", _("已销号")
        RETURNED = "returned", _("已退回")

    OPEN_STATUSES = ("open", "in_progress", "closure_requested", "returned")

    problem = models.ForeignKey(Problem, verbose_name=_("问题"), on_delete=models.PROTECT, related_name="items")
    # The problem's unit, copied so the ledger filters and scopes without a join through Problem.
    unit = models.ForeignKey(Unit, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="items")
    measure = models.TextField(_("整改措施"))
    lead_unit = models.ForeignKey(Unit, verbose_name=_("牵头部门"), on_delete=models.PROTECT,
                                  related_name="items_led")
    cooperating_units = models.ManyToManyField(Unit, verbose_name=_("配合部门"), blank=True,
                                               related_name="items_cooperating")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("责任人"), on_delete=models.PROTECT,
                              related_name="items_owned")
    kind = models.CharField(_("整改类型"), max_length=20, choices=Kind.choices, default=Kind.TIME_LIMITED)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.OPEN)
    opened_on = models.DateField(_("立项日期"), default=timezone.localdate, validators=[validate_sane_date])
    deadline = models.DateField(_("整改时限"), validators=[validate_sane_date])
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True)
    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    # Copies of unit.path and lead_unit.path for visible_to(). The database keeps them right by
    # itself (triggers of migration 0006: on every insert, on a change of unit or lead unit, on a
    # unit's move), so no code path (services, walk submission, imports, bulk_create, the admin,
    # move_unit) has anything to call; whatever Python writes here is overwritten.
    unit_path = models.CharField(_("所属单位路径"), max_length=255, default="", editable=False)
    lead_path = models.CharField(_("牵头部门路径"), max_length=255, default="", editable=False)
    # A copy of problem.category for the ledger's filter, kept by the database the same way
    # (migration 0014: on insert, on a change of problem, when the problem's category changes).
    category = models.CharField(_("问题类别"), max_length=20, default="", editable=False)
    # The problem's description and the measure, upper-cased, separated by U+001F, for the
    # ledger's search word, kept the same way (migration 0016): the search reads the items alone.
    search_text = models.TextField(_("检索文本"), default="", editable=False)
    # Drawn anew by the database whenever anything the item's page shows as its record changes
    # (migration 0015): the key of that rendered record in the cache. Python never sets it.
    record_stamp = models.BigIntegerField(_("记录戳"), default=0, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("最后变更"), default=timezone.now)

    objects = RectificationItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("整改措施")
        verbose_name_plural = _("整改台账")
        ordering = ["deadline", "id"]
        indexes = [
            # The ledger's hot question is "what is open, by deadline": red and yellow cards.
            models.Index(fields=["deadline"], condition=Q(status__in=["open", "in_progress", "closure_requested",
                                                                      "returned"]),
                         name="item_open_deadline_idx"),
            models.Index(fields=["status", "deadline"], name="item_status_deadline_idx"),
            # The ledger's default order; with id in the index a page is read without a sort.
            models.Index(fields=["deadline", "id"], name="item_deadline_id_idx"),
            models.Index(fields=["unit", "status"], name="item_unit_status_idx"),
            models.Index(fields=["owner", "status"], name="item_owner_status_idx"),
            models.Index(fields=["updated_at"], name="item_updated_idx"),
            models.Index(fields=["closed_at"], name="item_closed_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["open", "in_progress", "closure_requested", "closed",
                                                           "returned"]),
                                   name="item_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=["immediate", "time_limited", "long_term"]),
                                   name="item_kind_valid"),
            models.CheckConstraint(
                condition=(Q(status="closed") & Q(closed_at__isnull=False)) | (~Q(status="closed") & Q(closed_at__isnull=True)),
                name="item_closed_iff_closed_at",
            ),
            models.CheckConstraint(condition=Q(deadline__gte=F("opened_on")), name="item_deadline_after_opening"),
            models.CheckConstraint(condition=Q(version__gte=1), name="item_version_positive"),
        ]

    def __str__(self):
        return self.measure[:40]

    def get_absolute_url(self):
        return reverse("item_detail", args=[self.pk])

    @property
    def is_open(self):
        return self.status in self.OPEN_STATUSES

    def clean(self):
        if self.deadline and self.opened_on and self.deadline < self.opened_on:
            raise ValidationError({"deadline": _("整改时限不能早于立项日期。")})


class ItemEvent(models.Model):
    """The journal of an item: append-only, one row per change, written in the change's transaction."""

    class Action(models.TextChoices):
        CREATED = "created", _("列入台账")
        PROGRESS = "progress", _("报送进展")
        STARTED = "started", _("开始整改")
        EXTENSION_REQUESTED = "extension_requested", _("申请延期")
        EXTENSION_APPROVED = "extension_approved", _("同意延期")
        EXTENSION_REJECTED = "extension_rejected", _("不同意延期")
        CLOSURE_REQUESTED = "closure_requested", _("申请销号")
        CLOSED = "closed", _("销号")
        RETURNED = "returned", _("退回")
        REOPENED = "reopened", _("重新打开（回头看）")
        REASSIGNED = "reassigned", _("调整责任人")
        LEAD_UNIT_CHANGED = "lead_unit_changed", _("调整牵头部门")
        DEADLINE_SET = "deadline_set", _("调整整改时限")
        EDITED = "edited", _("修改")

    item = models.ForeignKey(RectificationItem, verbose_name=_("整改措施"), on_delete=models.PROTECT,
                             related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("时间"), default=timezone.now)
    action = models.CharField(_("操作"), max_length=30, choices=Action.choices)
    from_status = models.CharField(_("原状态"), max_length=20, choices=RectificationItem.Status.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20, choices=RectificationItem.Status.choices, blank=True)
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("变更内容"), default=dict, blank=True)

    class Meta:
        verbose_name = _("台账日志")
        verbose_name_plural = _("台账日志")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["item", "at"], name="event_item_at_idx"),
                   models.Index(fields=["action", "at"], name="event_action_at_idx")]

    def __str__(self):
        return f"{self.get_action_display()} · {timezone.localtime(self.at):%Y-%m-%d %H:%M}"

    @classmethod
    def record(cls, item, actor, action, from_status="", to_status="", note="", **data):
        event = cls.objects.create(item=item, actor=actor, action=action, from_status=from_status,
                                   to_status=to_status, note=note, data=data)
        from .api.webhooks import record_event  # the outbox rows join this change's transaction

        record_event(event)
        return event


class ExtensionRequest(models.Model):
    class Decision(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("同意")
        REJECTED = "rejected", _("不同意")

    item = models.ForeignKey(RectificationItem, verbose_name=_("整改措施"), on_delete=models.PROTECT,
                             related_name="extension_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    old_deadline = models.DateField(_("原整改时限"))
    new_deadline = models.DateField(_("申请延期至"), validators=[validate_sane_date])
    reason = models.TextField(_("延期理由"))
    decision = models.CharField(_("审核结果"), max_length=20, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decision_note = models.TextField(_("审核意见"), blank=True)

    class Meta:
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(new_deadline__gt=F("old_deadline")), name="extension_moves_later"),
            models.CheckConstraint(condition=Q(decision__in=["pending", "approved", "rejected"]),
                                   name="extension_decision_valid"),
            models.UniqueConstraint(fields=["item"], condition=Q(decision="pending"),
                                    name="extension_one_pending_per_item"),
        ]


class ClosureRecord(models.Model):
    """A request for closure (销号) and its review. Append-only: a review is written once."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("同意销号")
        RETURNED = "returned", _("退回")

    item = models.ForeignKey(RectificationItem, verbose_name=_("整改措施"), on_delete=models.PROTECT,
                             related_name="closures")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    evidence = models.TextField(_("整改情况及佐证说明"))
    time_limit_before = models.PositiveIntegerField(_("整改前办理时限（工作日）"), null=True, blank=True)
    time_limit_after = models.PositiveIntegerField(_("整改后办理时限（工作日）"), null=True, blank=True)
    materials_before = models.PositiveIntegerField(_("整改前申请材料（件）"), null=True, blank=True)
    materials_after = models.PositiveIntegerField(_("整改后申请材料（件）"), null=True, blank=True)
    steps_before = models.PositiveIntegerField(_("整改前办理环节（个）"), null=True, blank=True)
    steps_after = models.PositiveIntegerField(_("整改后办理环节（个）"), null=True, blank=True)
    trips_before = models.PositiveIntegerField(_("整改前跑动次数"), null=True, blank=True)
    trips_after = models.PositiveIntegerField(_("整改后跑动次数"), null=True, blank=True)
    decision = models.CharField(_("审核结果"), max_length=20, choices=Decision.choices, default=Decision.PENDING)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reason = models.TextField(_("审核意见"), blank=True)

    class Meta:
        verbose_name = _("销号记录")
        verbose_name_plural = _("销号记录")
        ordering = ["-submitted_at"]
        constraints = [
            models.CheckConstraint(condition=Q(decision__in=["pending", "approved", "returned"]),
                                   name="closure_decision_valid"),
            models.CheckConstraint(condition=Q(decision="pending") | Q(reviewed_by__isnull=False, reviewed_at__isnull=False),
                                   name="closure_review_complete"),
            models.CheckConstraint(condition=~Q(reviewed_by=F("submitted_by")), name="closure_no_self_review"),
            models.UniqueConstraint(fields=["item"], condition=Q(decision="pending"),
                                    name="closure_one_pending_per_item"),
        ]

    def __str__(self):
        return f"{self.item} · {self.get_decision_display()}"

    FIGURES = ("time_limit", "materials", "steps", "trips")

    def improvements(self):
        """(label, before, after) for each figure recorded on both sides."""
        result = []
        for name in self.FIGURES:
            before, after = getattr(self, f"{name}_before"), getattr(self, f"{name}_after")
            if before is not None and after is not None:
                label = self._meta.get_field(f"{name}_before").verbose_name
                result.append((name, str(label).replace("整改前", ""), before, after))
        return result


class AttachmentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Files of the user's subtree, plus those of every item the user may see and of those
        items' problems: an owner in a department sees the evidence and photos of the item it leads,
        even when the problem was found in the county above it."""
        if not user.is_authenticated:
            return self.none()
        items = RectificationItem.objects.visible_to(user)
        return self.filter(_scope_q(user, "unit") | Q(item_id__in=items.values("pk"))
                           | Q(problem_id__in=items.values("problem_id")))


def attachment_path(instance, filename):
    # A random name: the uploaded name is user input and is kept only as metadata.
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{instance.extension()}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        PHOTO = "photo", _("照片")
        DOCUMENT = "document", _("文件")

    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=255)
    original_name = models.CharField(_("原文件名"), max_length=255)
    content_type = models.CharField(_("文件类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    kind = models.CharField(_("类别"), max_length=20, choices=Kind.choices, default=Kind.PHOTO)
    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.PROTECT, related_name="attachments")
    walk = models.ForeignKey(WalkSession, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments")
    problem = models.ForeignKey(Problem, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments")
    item = models.ForeignKey(RectificationItem, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="attachments")
    closure = models.ForeignKey(ClosureRecord, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上传人"), on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    objects = AttachmentQuerySet.as_manager()

    EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx"}

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        ordering = ["uploaded_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=["photo", "document"]), name="attachment_kind_valid")]

    def __str__(self):
        return self.original_name

    def extension(self):
        return self.EXTENSIONS.get(self.content_type, ".bin")

    def get_absolute_url(self):
        return reverse("attachment", args=[self.pk])

    @property
    def is_image(self):
        return self.content_type.startswith("image/")


# ---------------------------------------------------------------------------------------------
# Notifications, saved filters, reports
# ---------------------------------------------------------------------------------------------


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("接收人"), on_delete=models.CASCADE,
                                  related_name="notifications")
    item = models.ForeignKey(RectificationItem, verbose_name=_("整改措施"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(_("内容"), max_length=300)
    url = models.CharField(_("链接"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("消息")
        verbose_name_plural = _("消息")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "created_at"], name="notif_recipient_idx"),
                   models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notif_unread_idx")]

    def __str__(self):
        return self.message


class ReminderLog(models.Model):
    """One row per item, kind and day: a reminder is sent once, however often the scan runs."""

    class Kind(models.TextChoices):
        DUE_3 = "due_3", _("3个工作日内到期提醒")
        DUE_1 = "due_1", _("1个工作日内到期提醒")
        ESCALATE = "escalate", _("逾期督办")

    item = models.ForeignKey(RectificationItem, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("提醒记录")
        verbose_name_plural = _("提醒记录")
        constraints = [models.UniqueConstraint(fields=["item", "kind", "day"], name="reminder_once_per_day")]


class SavedFilter(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(_("名称"), max_length=60)
    query = models.CharField(_("筛选条件"), max_length=2000)
    created_at = models.DateTimeField(_("保存时间"), default=timezone.now)

    class Meta:
        verbose_name = _("常用筛选")
        verbose_name_plural = _("常用筛选")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_filter_unique_name")]

    def __str__(self):
        return self.name


class ReportQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(_scope_q(user, "scope"))


def report_path(instance, filename):
    return f"reports/{instance.kind}/{instance.period}/{uuid.uuid4().hex}.xlsx"


class Report(models.Model):
    class Kind(models.TextChoices):
        WEEKLY = "weekly", _("周汇总")
        MONTHLY = "monthly", _("月通报")

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("生成中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    period = models.CharField(_("期间"), max_length=10, help_text=_("月：2022-05；周：2022-W20"))
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    scope = models.ForeignKey(Unit, verbose_name=_("范围"), on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    file = models.FileField(_("文件"), upload_to=report_path, blank=True, max_length=255)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申请人"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    error = models.TextField(_("错误信息"), blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        verbose_name = _("报表")
        verbose_name_plural = _("报表")
        ordering = ["-period_start", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "period", "scope"], name="report_unique_per_period_scope"),
            models.CheckConstraint(condition=Q(status__in=["queued", "running", "done", "failed"]),
                                   name="report_status_valid"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="report_period_ordered"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.period} {self.scope}"


class LedgerExportQuerySet(models.QuerySet):
    def visible_to(self, user):
        # An export holds exactly what its requester could see: nobody else downloads it.
        return self.filter(requested_by_id=user.pk) if user.is_authenticated else self.none()


def ledger_export_path(instance, filename):
    return f"exports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.xlsx"


class LedgerExport(models.Model):
    """A ledger export too large to build inside a request, built by a worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("生成中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.CASCADE,
                                     related_name="ledger_exports")
    query = models.CharField(_("筛选条件"), max_length=2000, blank=True)
    rows = models.PositiveIntegerField(_("条数"), default=0)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    file = models.FileField(_("文件"), upload_to=ledger_export_path, blank=True, max_length=255)
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    error = models.TextField(_("错误信息"), blank=True)

    objects = LedgerExportQuerySet.as_manager()

    class Meta:
        verbose_name = _("台账导出")
        verbose_name_plural = _("台账导出")
        ordering = ["-requested_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(status__in=["queued", "running", "done", "failed"]),
                                              name="ledger_export_status_valid")]

    def __str__(self):
        return f"{self.requested_by} · {timezone.localtime(self.requested_at):%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------
# Imports (ledgers/imports/): who brought in which file, the remembered column mappings, the key
# that makes a re-import update instead of duplicate, first sign-in codes for imported users
# ---------------------------------------------------------------------------------------------


class ImportBatchQuerySet(models.QuerySet):
    def visible_to(self, user):
        # A batch holds the file its importer uploaded and, for users, their first sign-in codes.
        return self.filter(created_by_id=user.pk) if user.is_authenticated else self.none()


def import_file_path(instance, filename):
    # A random name: the uploaded name is user input, kept only as metadata.
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{instance.suffix()}"


class ImportBatch(models.Model):
    class Kind(models.TextChoices):
        UNITS = "units", _("单位")
        USERS = "users", _("用户")
        LEDGER = "ledger", _("整改台账")

    class Status(models.TextChoices):
        MAPPING = "mapping", _("待确认表头")
        PREVIEWING = "previewing", _("预览中")
        PREVIEWED = "previewed", _("待确认导入")
        COMMITTING = "committing", _("导入中")
        DONE = "done", _("已导入")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("导入类型"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.MAPPING)
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    file = models.FileField(_("原始文件"), upload_to=import_file_path, max_length=255)
    original_name = models.CharField(_("原文件名"), max_length=255)
    size = models.PositiveIntegerField(_("大小（字节）"), default=0)
    sha256 = models.CharField(_("文件摘要"), max_length=64, blank=True)
    # The subtree the import writes into: the ledger's unit, or the administrator's unit (none for
    # a superuser without one, who may import the whole tree).
    unit = models.ForeignKey(Unit, verbose_name=_("导入单位"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="import_batches")
    campaign = models.ForeignKey(Campaign, verbose_name=_("专项行动"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="import_batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("导入人"), on_delete=models.PROTECT,
                                   related_name="import_batches")
    created_at = models.DateTimeField(_("上传时间"), default=timezone.now)
    committed_at = models.DateTimeField(_("导入时间"), null=True, blank=True)
    mapping = models.JSONField(_("列对应关系"), default=dict, blank=True)
    options = models.JSONField(_("导入选项"), default=dict, blank=True)
    summary = models.JSONField(_("预览结果"), default=dict, blank=True)
    result = models.JSONField(_("导入结果"), default=dict, blank=True)
    error = models.TextField(_("错误信息"), blank=True)

    objects = ImportBatchQuerySet.as_manager()

    class Meta:
        verbose_name = _("导入记录")
        verbose_name_plural = _("导入记录")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["units", "users", "ledger"]), name="import_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=["mapping", "previewing", "previewed", "committing",
                                                           "done", "failed"]),
                                   name="import_status_valid"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.original_name}"

    def suffix(self):
        name = self.original_name.lower()
        return next((s for s in (".xlsx", ".xlsm", ".csv") if name.endswith(s)), ".bin")


class ImportMapping(models.Model):
    """The columns a unit's office confirmed last time, offered first on its next import."""

    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="import_mappings")
    kind = models.CharField(_("导入类型"), max_length=20, choices=ImportBatch.Kind.choices)
    mapping = models.JSONField(_("列对应关系"), default=dict)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("确认时间"), default=timezone.now)

    class Meta:
        verbose_name = _("导入列对应")
        verbose_name_plural = _("导入列对应")
        constraints = [models.UniqueConstraint(fields=["unit", "kind"], name="import_mapping_unique_per_unit")]

    def __str__(self):
        return f"{self.unit} · {self.get_kind_display()}"


class ImportKey(models.Model):
    """Which item a ledger row became: the row's 编号/序号, or its unit and problem text, within the
    unit it was imported into. A second import of the same row finds its item here."""

    unit = models.ForeignKey(Unit, verbose_name=_("导入单位"), on_delete=models.PROTECT, related_name="+")
    key = models.CharField(_("行标识"), max_length=200)
    item = models.OneToOneField(RectificationItem, verbose_name=_("整改措施"), on_delete=models.CASCADE,
                                related_name="import_key")
    batch = models.ForeignKey(ImportBatch, verbose_name=_("最近导入"), on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("导入行标识")
        verbose_name_plural = _("导入行标识")
        constraints = [models.UniqueConstraint(fields=["unit", "key"], name="import_key_unique_per_unit")]

    def __str__(self):
        return self.key


class ActivationCodeQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(_scope_q(user, "user__unit"))

    def usable(self, now=None):
        return self.filter(used_at__isnull=True, expires_at__gt=now or timezone.now())


class ActivationCode(models.Model):
    """A single-use code with which an imported user sets their own first password.

    Only a digest is stored. Until the importing administrator has downloaded the codes, `salt`
    lets the code be derived again from it and SECRET_KEY (ledgers/imports/activation.py); the
    download empties it, so afterwards nobody can recover a code, not even from the database."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE,
                             related_name="activation_codes")
    digest = models.CharField(_("激活码摘要"), max_length=64, unique=True)
    salt = models.CharField(_("待发放"), max_length=32, blank=True)
    batch = models.ForeignKey(ImportBatch, verbose_name=_("导入记录"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="activation_codes")
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    expires_at = models.DateTimeField(_("失效时间"))
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)

    objects = ActivationCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("激活码")
        verbose_name_plural = _("激活码")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} · {timezone.localtime(self.expires_at):%Y-%m-%d}"


class ChangeStamp(models.Model):
    """A value the database changes whenever the rows behind a cached list change (triggers of
    migration 0006), in the changing transaction: cached choice lists are keyed by it, so an edit
    is seen by the next request in every process, whatever wrote it (a view, the admin, an import).
    A stamp is a random number, new for every change, even within one transaction or after a
    rollback, and unlike any other database's, so a key never points at a list computed from other
    rows (also when several databases share one cache: CI runs, a restored backup)."""

    name = models.CharField(_("名称"), max_length=40, primary_key=True)
    value = models.BigIntegerField(_("标记"), default=0)

    class Meta:
        verbose_name = _("缓存版本")
        verbose_name_plural = _("缓存版本")

    def __str__(self):
        return f"{self.name}: {self.value}"


# Integration models (API tokens, pushed tickets, webhooks) live in their own package.
from .api.models import ApiToken, ExternalTicket, WebhookDelivery, WebhookEndpoint  # noqa: E402, F401
# The circular as a document (letterhead, draft, issued versions, journal): ledgers/reports/models.py.
from .reports.models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular  # noqa: E402, F401
