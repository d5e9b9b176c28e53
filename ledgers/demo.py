"""Demo data drawn from the 2022 Hunan practices document: a small province, a user per role,
real service items and walk-throughs, problems in all four categories, items in every status.

Everything is keyed by a natural key (unit code, user name, a walk's fixed UUID), so loading twice
changes nothing. Dates are relative to the day of the first load, so cards (红黄牌) show up.
"""

import datetime
import uuid

from django.db import transaction
from django.utils import timezone

from .models import (
    Campaign,
    ClosureRecord,
    ExtensionRequest,
    ItemEvent,
    Problem,
    RectificationItem,
    Role,
    ServiceItem,
    SubCategory,
    Unit,
    User,
    WalkSession,
)
from .roles import ensure_groups, grant
from .units import create_unit
from .workdays import WorkCalendar

DEMO_PASSWORD = "Walkflow@2022"
DEMO_NAMESPACE = uuid.UUID("6f1c2a0e-2b0e-4d6a-9a55-0c1f1d9e2022")

UNITS = [
    # code, name, parent code, level, kind
    ("430000", "湖南省", None, Unit.Level.PROVINCE, Unit.Kind.REGION),
    ("430000-ZWGL", "湖南省政务管理服务局", "430000", Unit.Level.PROVINCE, Unit.Kind.DEPARTMENT),
    ("430000-SW", "国家税务总局湖南省税务局", "430000", Unit.Level.PROVINCE, Unit.Kind.DEPARTMENT),
    ("430000-YJ", "湖南省药品监督管理局", "430000", Unit.Level.PROVINCE, Unit.Kind.DEPARTMENT),
    ("430900", "益阳市", "430000", Unit.Level.CITY, Unit.Kind.REGION),
    ("430900-XZSP", "益阳市行政审批服务局", "430900", Unit.Level.CITY, Unit.Kind.DEPARTMENT),
    ("430900-SL", "益阳市水利局", "430900", Unit.Level.CITY, Unit.Kind.DEPARTMENT),
    ("430903", "赫山区", "430900", Unit.Level.COUNTY, Unit.Kind.REGION),
    ("430903-XZSP", "赫山区行政审批服务局", "430903", Unit.Level.COUNTY, Unit.Kind.DEPARTMENT),
    ("430903-GA", "赫山区公安分局", "430903", Unit.Level.COUNTY, Unit.Kind.DEPARTMENT),
    ("430903001", "龙光桥街道", "430903", Unit.Level.TOWNSHIP, Unit.Kind.REGION),
    ("430902", "资阳区", "430900", Unit.Level.COUNTY, Unit.Kind.REGION),
    ("430902-XZSP", "资阳区行政审批服务局", "430902", Unit.Level.COUNTY, Unit.Kind.DEPARTMENT),
    ("430902001", "汽车路街道", "430902", Unit.Level.TOWNSHIP, Unit.Kind.REGION),
    ("433100", "湘西土家族苗族自治州", "430000", Unit.Level.CITY, Unit.Kind.REGION),
    ("433101", "吉首市", "433100", Unit.Level.COUNTY, Unit.Kind.REGION),
    ("433101-XZSP", "吉首市行政审批服务局", "433101", Unit.Level.COUNTY, Unit.Kind.DEPARTMENT),
    ("433101-MZ", "吉首市民政局", "433101", Unit.Level.COUNTY, Unit.Kind.DEPARTMENT),
    ("433101-CL", "吉首市残疾人联合会", "433101", Unit.Level.COUNTY, Unit.Kind.DEPARTMENT),
    ("433101001", "乾州街道", "433101", Unit.Level.TOWNSHIP, Unit.Kind.REGION),
]

USERS = [
    # username, family name, given name, title, unit code, roles
    # The province's office staff sit at the province itself: their scope is the whole province.
    ("guanli", "管", "理员", "系统管理员", "430000", [Role.ADMIN, Role.OFFICE]),
    ("bangongshi", "易", "晓琳", "省优化办工作人员", "430000", [Role.OFFICE]),
    ("duban", "王", "建国", "市行政审批服务局督查科科长", "430900", [Role.SUPERVISOR]),
    ("duban_js", "向", "红", "市优化办督查组组长", "433101", [Role.SUPERVISOR]),
    ("lingdao", "梁", "元和", "区长", "430903", [Role.LEADER]),
    ("lingdao_js", "符", "家盛", "市长", "433101", [Role.LEADER]),
    ("lingdao_yj", "秦", "继红", "局党组书记", "430000-YJ", [Role.LEADER]),
    ("zeren", "陈", "卡", "审批服务局副局长", "430903-XZSP", [Role.OWNER]),
    ("zeren_js", "彭", "立", "残联副理事长", "433101-CL", [Role.OWNER]),
    ("zeren_mz", "田", "甜", "民政局社会事务股股长", "433101-MZ", [Role.OWNER]),
    ("zeren_yj", "黄", "东", "药品注册处处长", "430000-YJ", [Role.OWNER]),
    ("zeren_sl", "罗", "水生", "水利局审批科科长", "430900-SL", [Role.OWNER]),
]

SUBCATEGORIES = [
    (Problem.Category.PROCESS, "办理流程有待优化"),
    (Problem.Category.PROCESS, "审批时限有待压缩"),
    (Problem.Category.WINDOW, "窗口业务能力有待提升"),
    (Problem.Category.WINDOW, "政策宣传不到位"),
    (Problem.Category.SYSTEM, "一体化平台与业务系统不能共享共通"),
    (Problem.Category.SYSTEM, "系统优化类"),
    (Problem.Category.COORDINATION, "部门衔接不畅"),
]

SERVICE_ITEMS = [
    # name, competent unit code, tags, time limit in working days
    ("出生上户“一件事一次办”", "430903-XZSP", ["one_thing", "high_frequency"], 5),
    ("不动产登记", "430903-XZSP", ["high_frequency"], 5),
    ("残疾人证办理", "433101-CL", ["urgent"], 20),
    ("城乡居民丧葬费用政府补助资金给付", "433101-MZ", ["urgent"], 10),
    ("婚姻登记", "433101-MZ", ["high_frequency"], 1),
    ("取水许可审批", "430900-SL", ["key"], 20),
    ("社会投资项目审批", "430900-XZSP", ["key"], 58),
    ("药品生产许可核发", "430000-YJ", ["key"], 30),
    ("医疗器械产品出口销售证明", "430000-YJ", ["high_frequency"], 10),
    ("执业药师注册", "430000-YJ", ["one_thing"], 20),
    ("增值税留抵退税", "430000-SW", ["high_frequency", "urgent"], 10),
]


def _walk_uuid(key):
    return uuid.uuid5(DEMO_NAMESPACE, key)


@transaction.atomic
def load_demo(today=None):
    """Load the demo data; return a summary of what now exists. Safe to run again."""
    today = today or timezone.localdate()
    ensure_groups()
    units = _units()
    users = _users(units)
    subcategories = {
        name: SubCategory.objects.get_or_create(category=category, name=name, defaults={"sort_order": i})[0]
        for i, (category, name) in enumerate(SUBCATEGORIES)
    }
    items = {
        name: ServiceItem.objects.get_or_create(
            competent_unit=units[code], name=name, defaults={"tags": tags, "time_limit_days": days}
        )[0]
        for name, code, tags, days in SERVICE_ITEMS
    }
    campaign, created = Campaign.objects.get_or_create(
        name="走流程、解难题、优服务专项行动（演示）",
        defaults={"unit": units["430000"], "plan_document": "湘政办函〔2022〕示例号",
                  "start_date": today - datetime.timedelta(days=120),
                  "description": "省政府办公厅印发行动方案，各级各部门“一把手”走流程、解难题、优服务。"},
    )
    if created:
        campaign.must_walk_items.set([items[name] for name in ("出生上户“一件事一次办”", "残疾人证办理",
                                                               "取水许可审批", "药品生产许可核发",
                                                               "增值税留抵退税", "不动产登记")])
    if not WalkSession.objects.filter(client_uuid=_walk_uuid("birth")).exists():
        _walks(today, campaign, units, users, items, subcategories)
    return {
        "units": Unit.objects.count(),
        "users": User.objects.count(),
        "walks": WalkSession.objects.count(),
        "problems": Problem.objects.count(),
        "items": RectificationItem.objects.count(),
    }


def _units():
    units = {unit.code: unit for unit in Unit.objects.filter(code__in=[row[0] for row in UNITS])}
    for code, name, parent_code, level, kind in UNITS:
        if code not in units:
            units[code] = create_unit(code=code, name=name, parent=units.get(parent_code), level=level, kind=kind)
    return units


def _users(units):
    users = {}
    for username, family, given, title, code, roles in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username=username, password=DEMO_PASSWORD, last_name=family, first_name=given, title=title,
                unit=units[code], email=f"{username}@example.gov.cn",
                is_staff=Role.ADMIN in roles or Role.OFFICE in roles, is_superuser=username == "guanli",
            )
            grant(user, *roles)
        users[username] = user
    return users


def _walks(today, campaign, units, users, items, subs):
    calendar = WorkCalendar()

    def at(days_ago, hour=9):
        day = today - datetime.timedelta(days=days_ago)
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))

    def walk(key, unit, item, leader, days_ago, identity, way, place, notes, rank=WalkSession.LeaderRank.TOP,
             companions="", companion_count=0, deputies=0):
        return WalkSession.objects.create(
            client_uuid=_walk_uuid(key), campaign=campaign, unit=units[unit], service_item=items[item],
            leader=users[leader], created_by=users[leader], leader_rank=rank, identity=identity, way=way,
            place=place, notes=notes, started_at=at(days_ago), ended_at=at(days_ago, 11), companions=companions,
            companion_count=companion_count, deputy_count=deputies,
        )

    def problem(walk_row, category, description, sub=None, responsible=None, source=Problem.Source.WALK,
                on_spot="", days_ago=None, unit=None, item=None):
        unit = units[unit] if unit else walk_row.unit
        found = walk_row.started_at if walk_row else at(days_ago)
        return Problem.objects.create(
            walk=walk_row, campaign=campaign, unit=unit, service_item=items[item] if item else walk_row.service_item,
            source=source, category=category, subcategory=subs.get(sub), description=description,
            responsible_unit=units[responsible] if responsible else unit,
            resolution=Problem.Resolution.ON_SPOT if on_spot else Problem.Resolution.LEDGER,
            on_spot_action=on_spot, found_at=found, created_by=walk_row.leader if walk_row else users["bangongshi"],
            created_at=found,
        )

    def ledger_item(prob, measure, lead, owner, opened_days_ago, deadline_in_working_days, status,
                    kind=RectificationItem.Kind.TIME_LIMITED):
        opened = today - datetime.timedelta(days=opened_days_ago)
        deadline = calendar.add_working_days(opened, deadline_in_working_days).value
        created = at(opened_days_ago, 12)
        row = RectificationItem.objects.create(
            problem=prob, unit=prob.unit, measure=measure, lead_unit=units[lead], owner=users[owner], kind=kind,
            status=RectificationItem.Status.OPEN, opened_on=opened, deadline=deadline, created_at=created,
            updated_at=created,
        )
        ItemEvent.objects.create(item=row, actor=prob.created_by, at=created, action=ItemEvent.Action.CREATED,
                                 to_status=row.status, note="走流程发现问题，列入整改台账")
        _advance(row, status, users, at, opened_days_ago)
        return row

    S = RectificationItem.Status
    W = WalkSession

    w1 = walk("birth", "430903", "出生上户“一件事一次办”", "lingdao", 40, W.Identity.APPLICANT, W.Way.SIMULATED,
              "赫山区政务服务中心", "县长模拟走出生上户“一件事一次办”流程，全程体验出生医学证明、户口登记、医保参保。",
              companions="区行政审批服务局局长、区公安分局副局长", companion_count=2)
    problem(w1, Problem.Category.PROCESS, "申请人提交的身份证已明确民族成分，但仍需填写民族成分确认表。",
            sub="办理流程有待优化", on_spot="现场与公安部门交流，取消民族成分确认表，精简材料1件。")
    p = problem(w1, Problem.Category.SYSTEM, "出生医学证明信息需在户籍系统中二次录入，数据未共享。",
                sub="一体化平台与业务系统不能共享共通", responsible="430903-XZSP")
    ledger_item(p, "推动卫健与公安系统数据对接，出生医学证明信息自动推送至户籍系统。", "430903-XZSP", "zeren", 38, 25,
                S.IN_PROGRESS)
    p = problem(w1, Problem.Category.WINDOW, "窗口缺少“一件事一次办”办事指南，群众不清楚所需材料。",
                sub="政策宣传不到位", responsible="430903-XZSP")
    ledger_item(p, "编印一次性告知单，在大厅和“我的益阳”APP公布办事指南。", "430903-XZSP", "zeren", 38, 10, S.CLOSED,
                kind=RectificationItem.Kind.IMMEDIATE)

    w2 = walk("disability", "433101", "残疾人证办理", "lingdao_js", 60, W.Identity.APPLICANT, W.Way.REVERSE,
              "吉首市政务服务中心", "从12345热线不满意件倒推办理流程：申请、审核在残联，评定在医院。")
    p = problem(w2, Problem.Category.COORDINATION, "申请和审核环节在残联、评定环节在医院，办证群众往返跑。",
                sub="部门衔接不畅", responsible="433101-CL")
    ledger_item(p, "在市人民医院接诊大厅设置残疾人办证服务窗口，残联每周四集中受理，办好后邮寄到村（社区）。",
                "433101-CL", "zeren_js", 58, 15, S.CLOSED)
    p = problem(w2, Problem.Category.WINDOW, "残疾人评定挂号收费，特殊群体无绿色通道。", sub="窗口业务能力有待提升",
                responsible="433101-CL")
    ledger_item(p, "残疾人办证实行免费挂号，开设绿色通道。", "433101-CL", "zeren_js", 58, 20, S.CLOSURE_REQUESTED)

    w3 = walk("drug", "430000-YJ", "药品生产许可核发", "lingdao_yj", 50, W.Identity.WINDOW_STAFF, W.Way.ON_SITE,
              "省药监局政务服务窗口", "局党组书记以窗口工作人员身份模拟办理药品生产许可核发。",
              rank=WalkSession.LeaderRank.TOP, companions="局长、注册处处长", companion_count=2)
    p = problem(w3, Problem.Category.SYSTEM, "执业药师注册与国家执业药师注册系统不能实时对接，需要二次录入。",
                sub="一体化平台与业务系统不能共享共通", item="执业药师注册")
    ledger_item(p, "协调国家药监局开放接口，实现注册数据实时对接。", "430000-YJ", "zeren_yj", 48, 60, S.OPEN,
                kind=RectificationItem.Kind.LONG_TERM)
    p = problem(w3, Problem.Category.PROCESS, "经风险评估不用现场检查的药品生产许可变更，仍需流转现场检查环节。",
                sub="审批时限有待压缩")
    ledger_item(p, "试行流程跳转，风险评估后免于现场检查的直接进入综合评定。", "430000-YJ", "zeren_yj", 48, 20,
                S.RETURNED)

    w4 = walk("tax", "430000-SW", "增值税留抵退税", "lingdao_yj", 45, W.Identity.APPLICANT, W.Way.ON_SITE,
              "益阳高新区税务局办税服务厅", "以纳税人身份体验受理、初审、复审、核准、发放文书全过程。",
              rank=WalkSession.LeaderRank.LEADERSHIP, companions="人大代表1名、政协委员1名", companion_count=2,
              deputies=2)
    p = problem(w4, Problem.Category.SYSTEM, "退税文书需基层人员送至企业会计，未实现电子送达。", sub="系统优化类")
    ledger_item(p, "上线电子税务文书送达功能，实现退税全程网办。", "430000-SW", "zeren_yj", 44, 8, S.CLOSED)

    w5 = walk("water", "430900", "取水许可审批", "lingdao", 30, W.Identity.APPLICANT, W.Way.UNANNOUNCED,
              "益阳市政务服务中心水利窗口", "暗访取水许可审批窗口。", rank=WalkSession.LeaderRank.LEADERSHIP)
    p = problem(w5, Problem.Category.WINDOW, "窗口人员对取水许可审批材料要求解释不一致。", sub="窗口业务能力有待提升",
                responsible="430900-SL")
    ledger_item(p, "组织窗口人员业务培训，统一材料清单和解释口径。", "430900-SL", "zeren_sl", 28, 5, S.OPEN)
    p = problem(w5, Problem.Category.PROCESS, "取水许可审批承诺时限20个工作日，仍有压缩空间。", sub="审批时限有待压缩",
                responsible="430900-SL")
    ledger_item(p, "优化审查环节，将承诺时限压缩至10个工作日。", "430900-SL", "zeren_sl", 28, 12, S.IN_PROGRESS)

    w6 = walk("marriage", "433101", "婚姻登记", "lingdao_js", 12, W.Identity.WINDOW_STAFF, W.Way.SELF_CHECK,
              "吉首市婚姻登记处", "民政局主要负责人坐窗为市民办理结婚登记。", rank=WalkSession.LeaderRank.LEADERSHIP)
    p = problem(w6, Problem.Category.WINDOW, "政务服务中心自助服务查询机不能正常打开。", sub="窗口业务能力有待提升",
                responsible="433101-XZSP")
    ledger_item(p, "维修自助服务查询机，建立每日开机巡检制度。", "433101-XZSP", "zeren_mz", 10, 8, S.OPEN,
                kind=RectificationItem.Kind.IMMEDIATE)
    p = problem(w6, Problem.Category.PROCESS, "丧葬费用政府补助资金给付需到逝者单位或社区盖章核准，共2个环节。",
                sub="办理流程有待优化", responsible="433101-MZ", item="城乡居民丧葬费用政府补助资金给付")
    ledger_item(p, "对接上级民政部门和公安部门，实现身后事通过一体化平台“一次办”。", "433101-MZ", "zeren_mz", 10, 40,
                S.OPEN, kind=RectificationItem.Kind.LONG_TERM)

    hotline = problem(None, Problem.Category.COORDINATION, "12345热线反映：不动产登记与税务缴税需分别排队。",
                      source=Problem.Source.HOTLINE, days_ago=20, unit="430903", item="不动产登记",
                      responsible="430903-XZSP")
    ledger_item(hotline, "推行不动产登记与缴税“一窗办理”。", "430903-XZSP", "zeren", 19, 15, S.IN_PROGRESS)
    rating = problem(None, Problem.Category.WINDOW, "好差评差评：社会投资项目审批材料反复退回补正。",
                     source=Problem.Source.RATING, days_ago=15, unit="430900", item="社会投资项目审批",
                     responsible="430900-XZSP")
    ledger_item(rating, "实行容缺受理和一次性告知，审批时限由58个工作日压缩至35个工作日。", "430900-XZSP", "zeren_sl",
                14, 30, S.CLOSURE_REQUESTED)


def _advance(item, status, users, at, opened_days_ago):
    """Walk the item along the real transitions to `status`, journal rows included."""
    S = RectificationItem.Status
    A = ItemEvent.Action
    owner = item.owner
    supervisor = users["duban_js"] if item.unit.code.startswith("4331") else users["duban"]
    day = max(opened_days_ago - 3, 1)

    def move(new_status, action, actor, note, when, **data):
        ItemEvent.objects.create(item=item, actor=actor, at=when, action=action, from_status=item.status,
                                 to_status=new_status, note=note, data=data)
        item.status = new_status
        item.version += 1
        item.updated_at = when

    if status == S.OPEN:
        item.save()
        return
    move(S.IN_PROGRESS, A.PROGRESS, owner, "已制定整改方案，正在推进。", at(day, 15))
    if status in (S.CLOSURE_REQUESTED, S.CLOSED, S.RETURNED):
        request = ClosureRecord.objects.create(
            item=item, submitted_by=owner, submitted_at=at(max(day - 1, 1), 10),
            evidence="整改已完成，附整改前后办事指南及系统截图。", time_limit_before=10, time_limit_after=6,
            materials_before=5, materials_after=2, steps_before=5, steps_after=3, trips_before=2, trips_after=0,
        )
        move(S.CLOSURE_REQUESTED, A.CLOSURE_REQUESTED, owner, request.evidence, request.submitted_at,
             closure=request.pk)
        if status == S.CLOSED:
            when = at(max(day - 2, 0), 16)
            ClosureRecord.objects.filter(pk=request.pk).update(decision=ClosureRecord.Decision.APPROVED,
                                                               reviewed_by=supervisor, reviewed_at=when,
                                                               reason="佐证材料齐全，同意销号。")
            move(S.CLOSED, A.CLOSED, supervisor, "佐证材料齐全，同意销号。", when, closure=request.pk)
            item.closed_at = when
        elif status == S.RETURNED:
            when = at(max(day - 2, 0), 16)
            ClosureRecord.objects.filter(pk=request.pk).update(decision=ClosureRecord.Decision.RETURNED,
                                                               reviewed_by=supervisor, reviewed_at=when,
                                                               reason="缺少整改后流程图，请补充佐证材料。")
            move(S.RETURNED, A.RETURNED, supervisor, "缺少整改后流程图，请补充佐证材料。", when, closure=request.pk)
    if status == S.IN_PROGRESS and item.kind == RectificationItem.Kind.TIME_LIMITED:
        ExtensionRequest.objects.create(item=item, requested_by=owner, old_deadline=item.deadline,
                                        new_deadline=item.deadline + datetime.timedelta(days=30),
                                        reason="涉及系统改造，需上级部门配合。", requested_at=at(day, 17))
        ItemEvent.objects.create(item=item, actor=owner, at=at(day, 17), action=A.EXTENSION_REQUESTED,
                                 from_status=item.status, to_status=item.status, note="涉及系统改造，需上级部门配合。")
    item.save()
