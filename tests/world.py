"""A small province for tests: personas made once per TestCase in setUpTestData.

    province 湖南省 (P)
    ├── city 益阳市 (C1)
    │   ├── county 赫山区 (K1) ── dept 赫山区行政审批服务局 (K1D)
    │   └── county 资阳区 (K2)
    └── city 湘西州 (C2)
        └── county 吉首市 (K3)

alice: leader+owner at K1; bob: supervisor at C1; carol: owner at K1D; dave: supervisor at K2
(a sibling of K1); erin: office staff at P; frank: leader at K3 (other city).
"""

import datetime
from types import SimpleNamespace

from django.db import connection
from django.utils import timezone

from ledgers.models import (
    Campaign,
    Problem,
    RectificationItem,
    Role,
    ServiceItem,
    Unit,
    User,
    WalkSession,
)
from ledgers.roles import ensure_groups, grant
from ledgers.units import create_unit

PASSWORD = "walkflow-test-pw"


def make_user(username, unit, *roles, **fields):
    user = User.objects.create_user(username=username, password=PASSWORD, unit=unit, email=f"{username}@example.cn",
                                    **fields)
    grant(user, *roles)
    return user


def as_if_committed():
    """On PostgreSQL the "figures" stamp is written at COMMIT (a deferred trigger, once per
    transaction), which a TestCase never reaches: fire the deferred triggers now and forget that
    this transaction stamped, as the commit of a real request and the start of the next would."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute("SELECT set_config('walkflow.figures_stamped', 'off', true)")


def build_world():
    ensure_groups()
    w = SimpleNamespace()
    w.P = create_unit(code="430000", name="湖南省", level=Unit.Level.PROVINCE)
    w.C1 = create_unit(code="430900", name="益阳市", parent=w.P, level=Unit.Level.CITY)
    w.C2 = create_unit(code="433100", name="湘西州", parent=w.P, level=Unit.Level.CITY)
    w.K1 = create_unit(code="430903", name="赫山区", parent=w.C1, level=Unit.Level.COUNTY)
    w.K2 = create_unit(code="430902", name="资阳区", parent=w.C1, level=Unit.Level.COUNTY)
    w.K3 = create_unit(code="433101", name="吉首市", parent=w.C2, level=Unit.Level.COUNTY)
    w.K1D = create_unit(code="430903-XZSP", name="赫山区行政审批服务局", parent=w.K1, level=Unit.Level.COUNTY,
                        kind=Unit.Kind.DEPARTMENT)
    w.alice = make_user("alice", w.K1, Role.LEADER, Role.OWNER, last_name="李", first_name="爱丽")
    w.bob = make_user("bob", w.C1, Role.SUPERVISOR, last_name="王", first_name="博")
    w.carol = make_user("carol", w.K1D, Role.OWNER, last_name="陈", first_name="卡")
    w.dave = make_user("dave", w.K2, Role.SUPERVISOR, Role.LEADER, Role.OWNER, last_name="邓", first_name="大卫")
    w.erin = make_user("erin", w.P, Role.OFFICE, last_name="易", first_name="琳")
    w.frank = make_user("frank", w.K3, Role.LEADER, Role.OWNER, last_name="符", first_name="凡")
    w.campaign = Campaign.objects.create(name="2022年走流程、解难题、优服务行动", unit=w.P,
                                         start_date=datetime.date(2022, 3, 28))
    w.birth = ServiceItem.objects.create(name="出生上户“一件事一次办”", competent_unit=w.K1,
                                         tags=[ServiceItem.Tag.ONE_THING, ServiceItem.Tag.HIGH_FREQUENCY])
    w.disability = ServiceItem.objects.create(name="残疾人证办理", competent_unit=w.K3)
    w.campaign.must_walk_items.add(w.birth)
    return w


def make_walk(w, unit=None, leader=None, **fields):
    unit = unit or w.K1
    leader = leader or w.alice
    defaults = dict(campaign=w.campaign, unit=unit, service_item=w.birth, leader=leader, created_by=leader,
                    identity=WalkSession.Identity.APPLICANT, way=WalkSession.Way.ON_SITE, place="政务服务大厅",
                    started_at=timezone.now() - datetime.timedelta(hours=1))
    defaults.update(fields)
    return WalkSession.objects.create(**defaults)


def make_problem(w, unit=None, walk=None, **fields):
    unit = unit or w.K1
    defaults = dict(campaign=w.campaign, unit=unit, responsible_unit=unit, walk=walk, created_by=w.alice,
                    category=Problem.Category.PROCESS, description="申请人已提交身份证，仍需填写民族成分确认表")
    defaults.update(fields)
    return Problem.objects.create(**defaults)


def make_item(w, problem=None, owner=None, deadline=None, status=RectificationItem.Status.OPEN, **fields):
    problem = problem or make_problem(w)
    owner = owner or w.carol
    today = timezone.localdate()
    defaults = dict(problem=problem, unit=problem.unit, lead_unit=fields.pop("lead_unit", w.K1D), owner=owner,
                    measure="取消民族成分确认表，由系统自动比对身份证信息", status=status,
                    opened_on=fields.pop("opened_on", today - datetime.timedelta(days=30)),
                    deadline=deadline or today + datetime.timedelta(days=20))
    if status == RectificationItem.Status.CLOSED:
        defaults["closed_at"] = timezone.now()
    defaults.update(fields)
    return RectificationItem.objects.create(**defaults)
