"""Demo data drawn from the 2022 Hunan practices document (seed: walkflow-practices-2022.txt).

The province itself — units, the people named in the document with their posts (where it names
nobody, the post stands for the person), the common service catalogue, problem sub-categories and
the campaign — is a Django fixture, `fixtures/demo_province.json`, with natural keys. The walks,
problems and rectification items are built here, dated relative to the day of the first load so
that red and yellow cards show up. Loading twice changes nothing.
"""

import datetime
import json
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from .models import (
    Campaign,
    ClosureRecord,
    ExtensionRequest,
    ItemEvent,
    Problem,
    RectificationItem,
    ServiceItem,
    SubCategory,
    Unit,
    User,
    WalkSession,
)
from .roles import ensure_groups
from .workdays import WorkCalendar

DEMO_PASSWORD = "Walkflow@2022"
DEMO_NAMESPACE = uuid.UUID("6f1c2a0e-2b0e-4d6a-9a55-0c1f1d9e2022")
FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "demo_province.json"
CAMPAIGN = "“走流程、解难题、优服务”行动"


def demo_usernames():
    rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return [row["fields"]["username"] for row in rows if row["model"] == "ledgers.user"]


def _walk_uuid(key):
    return uuid.uuid5(DEMO_NAMESPACE, key)


@transaction.atomic
def load_demo(today=None):
    """Load the demo data; return a summary of what now exists. Safe to run again."""
    today = today or timezone.localdate()
    call_command("loaddata", str(FIXTURE), verbosity=0)
    ensure_groups()  # the fixture names the groups; their admin permissions come from roles.py
    names = demo_usernames()
    # The fixture carries no password hash (hashers differ between installations): set the demo one.
    for user in User.objects.filter(username__in=names, password__startswith="!"):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    if not WalkSession.objects.filter(client_uuid=_walk_uuid("birth")).exists():
        units = {unit.code: unit for unit in Unit.objects.all()}
        users = {user.username: user for user in User.objects.filter(username__in=names)}
        items = {item.name: item for item in ServiceItem.objects.filter(origin=ServiceItem.Origin.CATALOGUE)}
        subcategories = {sub.name: sub for sub in SubCategory.objects.all()}
        _walks(today, Campaign.objects.get(name=CAMPAIGN), units, users, items, subcategories)
    return {
        "units": Unit.objects.count(),
        "users": User.objects.count(),
        "walks": WalkSession.objects.count(),
        "problems": Problem.objects.count(),
        "items": RectificationItem.objects.count(),
    }


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
                on_spot="", days_ago=None, unit=None, item=None, by=None):
        unit = units[unit] if unit else walk_row.unit
        found = walk_row.started_at if walk_row else at(days_ago)
        return Problem.objects.create(
            walk=walk_row, campaign=campaign, unit=unit, service_item=items[item] if item else walk_row.service_item,
            source=source, category=category, subcategory=subs.get(sub), description=description,
            responsible_unit=units[responsible] if responsible else unit,
            resolution=Problem.Resolution.ON_SPOT if on_spot else Problem.Resolution.LEDGER,
            on_spot_action=on_spot, found_at=found, created_by=users[by] if by else walk_row.leader,
            created_at=found,
        )

    def ledger_item(prob, measure, lead, owner, opened_days_ago, status, working_days=None, due_in=None,
                    kind=RectificationItem.Kind.TIME_LIMITED, figures=None):
        """`working_days` after opening, or `due_in` working days from today (a yellow card)."""
        opened = today - datetime.timedelta(days=opened_days_ago)
        if due_in is not None:
            deadline = calendar.add_working_days(today, due_in).value
        else:
            deadline = calendar.add_working_days(opened, working_days).value
        created = at(opened_days_ago, 12)
        row = RectificationItem.objects.create(
            problem=prob, unit=prob.unit, measure=measure, lead_unit=units[lead], owner=users[owner], kind=kind,
            status=RectificationItem.Status.OPEN, opened_on=opened, deadline=deadline, created_at=created,
            updated_at=created,
        )
        ItemEvent.objects.create(item=row, actor=prob.created_by, at=created, action=ItemEvent.Action.CREATED,
                                 to_status=row.status, note="走流程发现问题，列入整改台账")
        _advance(row, status, users, at, opened_days_ago, figures or {})
        return row

    S = RectificationItem.Status
    K = RectificationItem.Kind
    W = WalkSession
    C = Problem.Category

    # 芷江侗族自治县: the county head opens the campaign by walking 出生上户 himself.
    w = walk("birth", "431228", "出生上户“一件事一次办”", "lingdao", 40, W.Identity.APPLICANT, W.Way.SIMULATED,
             "芷江侗族自治县政务服务中心", "县长模拟走出生上户“一件事一次办”改革流程，为全县专项行动按下“启动键”。")
    problem(w, C.PROCESS, "申请人提交的身份证已明确民族成分，但仍需填写民族成分确认表。", sub="办理流程有待优化",
            on_spot="立即与相关部门交流，现场取消民族成分确认表，进一步精简材料。")
    p = problem(None, C.COORDINATION, "乡镇基层走发现：残疾人取得残疾人证后，申请“残疾人两项补贴”还要再向民政部门申请，极不方便。",
                sub="部门沟通对接不及时", source=Problem.Source.OTHER, days_ago=25, unit="431228",
                item="残疾人两项补贴申请", responsible="431228-MZ", by="lingdao")
    ledger_item(p, "对“残疾人证办理”“残疾人两项补贴”申请两个事项梳理整合、流程再造，符合条件的残疾人无需再向民政部门申请即可领取补贴。",
                "431228-MZ", "zeren", 24, S.IN_PROGRESS, due_in=2)
    w = walk("water", "431228-SL", "取水许可审批", "lingdao_sl", 30, W.Identity.APPLICANT, W.Way.ON_SITE,
             "芷江侗族自治县政务服务中心水利窗口", "水利部门主要负责人走“取水许可审批”流程，现场办公。")
    p = problem(w, C.PROCESS, "取水许可审批承诺时限10个工作日，仍有压缩空间。", sub="审批时限有待压缩")
    ledger_item(p, "现场办公优化审查环节，承诺时限由10个工作日压缩至6个工作日。", "431228-SL", "zeren_sl", 29, S.CLOSED,
                working_days=10, figures={"time_limit": (10, 6)})

    # 省药品监督管理局: the party secretary at the counter, then as an agent.
    w = walk("drug", "430000-YJ", "药品生产许可核发", "lingdao_yj", 50, W.Identity.WINDOW_STAFF, W.Way.SIMULATED,
             "省药品监督管理局政务服务窗口", "局党组书记以窗口工作人员身份模拟办理“药品生产许可核发”事项。")
    p = problem(w, C.SYSTEM, "“执业药师注册”已在省局审批业务系统全程网办，但与国家执业药师注册系统不能实时对接，需要二次录入。",
                sub="一体化平台与业务系统不能共享共通", item="执业药师注册")
    ledger_item(p, "成立工作专班，推动省局审批业务系统与国家执业药师注册系统数据共享、实时对接。", "430000-YJ", "zeren_yj",
                48, S.OPEN, working_days=60, kind=K.LONG_TERM)
    p = problem(w, C.PROCESS, "“药品生产许可变更”经风险评估不用现场检查，按流程设置仍需转至下一审查部门进行资料审查、现场检查和技术审评。",
                sub="审批时限有待压缩", item="药品生产许可变更")
    ledger_item(p, "试行流程跳转环节：经风险评估免于现场检查的，直接进入综合评定。", "430000-YJ", "zeren_yj", 48, S.RETURNED,
                working_days=20)
    p = problem(w, C.WINDOW, "窗口有相关专业背景的工作人员占比不到30%，80%以上为劳务派遣人员，培训学习机会不多。",
                sub="窗口业务能力有待提升")
    ledger_item(p, "加强窗口标准化建设，建立培训和激励机制，培养专业复合型人才。", "430000-YJ", "zeren_yj", 46, S.IN_PROGRESS,
                working_days=25)
    w = walk("device", "430000-YJ", "医疗器械产品出口销售证明", "lingdao_yj", 47, W.Identity.AGENT, W.Way.ON_SITE,
             "省药品监督管理局政务服务窗口", "接受企业委托，以“帮代办”方式办理“医疗器械产品出口销售证明”。")
    p = problem(w, C.SYSTEM, "“医疗器械产品出口销售证明”审批时限短、办理量较大，企业反映突出，亟需实现网上办理。",
                sub="系统优化类")
    ledger_item(p, "使用电子签章发放电子证照，实现医疗器械产品出口销售证明网上办理。", "430000-YJ", "zeren_yj", 45, S.OPEN,
                working_days=40)

    # 省税务局: the director walks 增值税留抵退税 in 益阳高新区.
    w = walk("tax", "430000-SW", "增值税留抵退税", "lingdao_sw", 45, W.Identity.APPLICANT, W.Way.ON_SITE,
             "益阳高新区税务局办税服务厅", "逐一体验受理、初审、复审、核准、发放文书、开具收入退还书全流程。")
    p = problem(w, C.SYSTEM, "退税最后一个步骤需基层办税人员将文书送至企业会计，未实现电子送达。", sub="系统优化类")
    ledger_item(p, "优化电子税务文书送达功能，实现足不出户完成退税、全程网办。", "430000-SW", "zeren_sw", 44, S.CLOSED,
                working_days=8, figures={"trips": (1, 0)})

    # 吉首市: the approval bureau traces a complaint back; the mayor at the business counter;
    # the civil affairs head at the counter and at the funeral subsidy office; CPPCC members find fault.
    w = walk("disability", "433101", "残疾人证办理", "duban_js", 60, W.Identity.APPLICANT, W.Way.REVERSE,
             "吉首市政务服务中心", "对12345热线、好差评系统和“办不好件”受理窗口反映的不满意事项，从办事结果开始倒推审批流程。")
    p = problem(w, C.COORDINATION, "“残疾人证”申请和审核等环节在残联、评定环节在医院，往返跑对办理人造成不便。",
                sub="部门沟通对接不及时", responsible="433101-CL")
    ledger_item(p, "在市人民医院接诊大厅设置残疾人办证服务窗口，市残联每周四集中受理，办证完成后邮寄到村（社区）。",
                "433101-CL", "zeren_js", 58, S.CLOSED, working_days=15, figures={"trips": (2, 1)})
    p = problem(w, C.WINDOW, "残疾人评定需挂号缴费，特殊群体没有绿色通道。", sub="窗口业务能力有待提升",
                responsible="433101-CL")
    ledger_item(p, "残疾人办证专窗实行免费挂号。", "433101-CL", "zeren_js", 58, S.CLOSURE_REQUESTED, working_days=20)
    w = walk("business", "433101", "企业设立、注销及变更登记", "lingdao_js", 35, W.Identity.APPLICANT, W.Way.ON_SITE,
             "吉首市政务服务中心企业开办窗口", "到企业开办窗口体验企业设立、注销及变更登记流程。")
    p = problem(w, C.PROCESS, "企业设立、注销及变更登记流程和时限仍可压缩，帮代办人员不足。", sub="审批时限有待压缩",
                responsible="433101-SCJG")
    ledger_item(p, "市场监督管理局进一步“减流程减时限”，增加帮代办人员。", "433101-SCJG", "zeren_sc", 34, S.IN_PROGRESS,
                due_in=1)
    walk("marriage", "433101-MZ", "婚姻登记", "zeren_mz", 12, W.Identity.WINDOW_STAFF, W.Way.SELF_CHECK,
         "吉首市婚姻登记处", "市民政局主要负责人以工作人员身份坐窗婚姻登记窗口，为市民办理结婚证。")
    w = walk("funeral", "433101-MZ", "城乡居民丧葬费用政府补助资金给付", "zeren_mz", 10, W.Identity.APPLICANT,
             W.Way.ON_SITE, "兴龙陵园殡葬补助结算中心", "就“城乡居民丧葬费用政府补助资金给付”事项走流程。")
    p = problem(w, C.PROCESS, "丧属办理政府补助资金有2个环节，需要到逝者单位或街道社区盖章核准。", sub="办理流程有待优化")
    ledger_item(p, "与上级民政部门、市行政审批服务局、市公安局对接，实现身后事通过“互联网+政务服务”一体化平台一次办理。",
                "433101-MZ", "zeren_mz", 9, S.OPEN, working_days=40, kind=K.LONG_TERM)
    for description, days, working_days, kind in (
            ("政协委员挑刺式走流程发现：政务服务中心自助服务查询机不能正常打开。", 20, 5, K.IMMEDIATE),
            ("政协委员挑刺式走流程发现：政务服务中心打印收费价格偏高。", 20, 30, K.TIME_LIMITED)):
        p = problem(None, C.WINDOW, description, sub="窗口业务能力有待提升", source=Problem.Source.DEPUTY,
                    days_ago=days, unit="433101", item="企业设立、注销及变更登记", responsible="433101-XZSP",
                    by="lingdao_zx")
        ledger_item(p, "落实政协委员提出的改进意见，限期整改并向委员反馈。", "433101-XZSP", "zeren_xz", days - 1, S.OPEN,
                    working_days=working_days, kind=kind)

    # 永州市: the mayor walks 工程建设项目审批, the longest wait firms reported.
    w = walk("project", "431100", "工程建设项目审批", "lingdao_yz", 55, W.Identity.APPLICANT, W.Way.ON_SITE,
             "永州市政务服务中心", "市长对工程建设项目审批走流程，明确4个审批阶段“一家牵头、优化流程、压缩时限”。")
    p = problem(w, C.PROCESS, "工程项目审批时间过长，是摸底中企业反映最强烈的问题之一。", sub="审批时限有待压缩",
                responsible="431100-ZJ")
    ledger_item(p, "住建局牵头，施工许可竣工验收阶段总审批时限由23个工作日压缩至18个工作日。", "431100-ZJ", "zeren_yz", 53,
                S.CLOSED, working_days=20, figures={"time_limit": (23, 18)})
    p = problem(w, C.COORDINATION, "住建、消防、人防等施工图纸分别审查，图审时限长。", sub="部门沟通对接不及时",
                responsible="431100-ZJ")
    ledger_item(p, "实行施工图纸并联审查，社会投资项目审批时限由58个工作日压缩至35个工作日。", "431100-ZJ", "zeren_yz", 50,
                S.CLOSURE_REQUESTED, working_days=30, figures={"time_limit": (58, 35)})


def _advance(item, status, users, at, opened_days_ago, figures):
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
        numbers = {f"{name}_{side}": value for name, pair in figures.items()
                   for side, value in zip(("before", "after"), pair)}
        request = ClosureRecord.objects.create(
            item=item, submitted_by=owner, submitted_at=at(max(day - 1, 1), 10),
            evidence="整改已完成，附整改前后办事指南及系统截图。", **numbers,
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
