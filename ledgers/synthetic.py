"""Realistic synthetic ledgers for load tests and benchmarks (`manage.py generate_ledger`).

A whole province (14 cities, ~9 counties each, their departments, townships and villages), owners
and supervisors, service items, walk-throughs, problems in every category and items in every status
with deadlines spread over a year around today, written with bulk inserts chunk by chunk so memory
stays flat and 100,000 problems take well under two minutes on SQLite and PostgreSQL.
"""

import datetime
import random
import uuid

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from .models import (
    Campaign,
    ClosureRecord,
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
from .roles import ensure_groups
from .units import create_unit

CITY_NAMES = ["长沙市", "株洲市", "湘潭市", "衡阳市", "邵阳市", "岳阳市", "常德市", "张家界市", "益阳市", "郴州市",
              "永州市", "怀化市", "娄底市", "湘西州"]
COUNTY_SUFFIXES = ["芙蓉区", "天元区", "雨湖区", "珠晖区", "双清区", "岳阳楼区", "武陵区", "永定区", "赫山区", "北湖区"]
DEPARTMENTS = ["行政审批服务局", "公安局", "人社局", "医保局", "民政局", "市场监管局", "自然资源局"]
SERVICES = ["企业开办", "不动产登记", "出生上户“一件事一次办”", "残疾人证办理", "社保卡申领", "医保异地就医备案",
            "婚姻登记", "取水许可审批", "工程建设项目审批", "食品经营许可", "药品经营许可", "居民身份证申领",
            "出入境证件签发", "机动车登记", "退休“一件事”", "公积金提取", "个体工商户注册", "建筑工程施工许可",
            "城乡居民丧葬费用补助", "增值税留抵退税", "残疾人两项补贴", "高龄津贴申领", "水电气网报装",
            "医疗器械产品出口销售证明", "执业药师注册", "道路运输经营许可", "排污许可", "招投标备案",
            "教师资格认定", "就业创业证办理"]
PHRASES = {
    Problem.Category.SYSTEM: ["业务系统与省一体化平台未对接，需二次录入", "办件数据推送延时，产生红黄牌",
                              "电子证照无法调用，仍需提交纸质材料", "网上申报页面频繁报错"],
    Problem.Category.PROCESS: ["审批环节可进一步压减", "申请材料存在重复提交", "承诺时限偏长，有压缩空间",
                               "经评估可免于现场核查，仍需现场核查"],
    Problem.Category.COORDINATION: ["部门之间衔接不畅，群众往返跑", "牵头部门与配合部门职责不清",
                                    "跨层级办理需多次盖章核准"],
    Problem.Category.WINDOW: ["窗口人员业务不熟，解释口径不一", "自助服务终端无法正常使用", "办事指南公示不全",
                              "政策宣传不到位，群众知晓率低"],
}
MEASURES = ["优化审批流程，压减办理环节", "推动系统对接，实现数据共享", "开展窗口人员业务培训",
            "编印一次性告知单并公示", "实行容缺受理和告知承诺", "建立部门联办机制"]
SUBCATEGORY_NAMES = {
    Problem.Category.SYSTEM: ["一体化平台与业务系统不能共享共通", "系统优化类"],
    Problem.Category.PROCESS: ["办理流程有待优化", "审批时限有待压缩"],
    Problem.Category.COORDINATION: ["部门衔接不畅"],
    Problem.Category.WINDOW: ["窗口业务能力有待提升", "政策宣传不到位"],
}
STATUS_WEIGHTS = [("open", 25), ("in_progress", 25), ("closure_requested", 10), ("closed", 35), ("returned", 5)]
SOURCES = [value for value, _ in Problem.Source.choices if value != "walk"]


class Generator:
    def __init__(self, seed, today=None, batch=5000, stdout=None):
        self.rng = random.Random(seed)
        self.seed = seed
        self.today = today or timezone.localdate()
        self.batch = batch
        self.stdout = stdout

    def say(self, text):
        if self.stdout is not None:
            self.stdout.write(text)

    def run(self, problems):
        ensure_groups()
        self.build_world()
        # A later run with the same seed appends different rows (walk UUIDs must not repeat).
        existing = Problem.objects.filter(campaign=self.campaign).count()
        self.rng = random.Random(f"{self.seed}:{existing}")
        made = 0
        while made < problems:
            size = min(self.batch, problems - made)
            with transaction.atomic():
                self.write_chunk(size)
            made += size
            self.say(f"  {made}/{problems} 个问题")
        # Fresh statistics: right after a bulk load the planner would otherwise guess row counts
        # from an empty table and pick plans (and JIT) that cost minutes instead of seconds. On
        # PostgreSQL VACUUM also sets the visibility map, without which the counts' index-only
        # scans read every row from the table until autovacuum comes by (ledger_plain: 25 → 10 ms).
        with connection.cursor() as cursor:
            vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
            cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
        return made

    # -- the organisation -----------------------------------------------------------------------

    def build_world(self):
        code = f"SYN{self.seed}"
        root = Unit.objects.filter(code=code).first()
        if root is None:
            with transaction.atomic():
                root = self._make_tree(code)
        self.root = root
        units = list(Unit.objects.subtree(root).values_list("id", "level", "kind", "parent_id", "path"))
        self.counties = [u for u in units if u[1] == Unit.Level.COUNTY and u[2] == Unit.Kind.REGION]
        self.local_units = [u for u in units if u[1] in (Unit.Level.COUNTY, Unit.Level.TOWNSHIP, Unit.Level.VILLAGE)]
        departments = [u for u in units if u[2] == Unit.Kind.DEPARTMENT and u[1] == Unit.Level.COUNTY]
        self.departments_by_county = {}
        for dept in departments:
            self.departments_by_county.setdefault(dept[3], []).append(dept[0])
        self.county_of = {}
        for unit in units:
            for county in self.counties:
                if unit[4].startswith(county[4]):
                    self.county_of[unit[0]] = county[0]
                    break
        users = User.objects.filter(unit__path__startswith=root.path)
        owners = users.filter(groups__name=Role.OWNER)
        self.owners_by_county = {}
        for user_id, unit_id in owners.values_list("id", "unit_id"):
            self.owners_by_county.setdefault(self.county_of.get(unit_id), []).append(user_id)
        self.leaders_by_county = dict(users.filter(groups__name=Role.LEADER).values_list("unit_id", "id"))
        self.supervisor = users.filter(groups__name=Role.SUPERVISOR, unit=root).values_list("id", flat=True).first()
        self.campaign = Campaign.objects.get(unit=root)
        self.service_items = list(ServiceItem.objects.filter(competent_unit__path__startswith=root.path)
                                  .values_list("id", flat=True))
        self.subcategories = {}
        for category, names in SUBCATEGORY_NAMES.items():
            for name in names:
                sub, _ = SubCategory.objects.get_or_create(category=category, name=name)
                self.subcategories.setdefault(category, []).append(sub.id)

    def _make_tree(self, code):
        rng = self.rng
        root = create_unit(code=code, name=f"合成省（种子{self.seed}）", level=Unit.Level.PROVINCE)
        password = make_password("Walkflow@2022")
        groups = ensure_groups()
        pending_users = []  # (User, role)

        def person(unit, role, title):
            name = f"{rng.choice('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗')}{rng.choice('伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚')}"
            username = f"syn{self.seed}_{role}_{unit.code}_{len(pending_users)}"
            pending_users.append((User(username=username, password=password, last_name=name[0], first_name=name[1:],
                                       title=title, unit=unit), role))

        # The province's own supervisor and office clerk sit at the root, so their scope is everything.
        person(root, Role.SUPERVISOR, "省优化办督查组组长")
        person(root, Role.OFFICE, "省优化办工作人员")
        for c, city_name in enumerate(CITY_NAMES):
            city = create_unit(code=f"{code}-{c:02d}", name=f"{city_name}（合成）", parent=root, level=Unit.Level.CITY)
            person(city, Role.SUPERVISOR, "市优化办督查科科长")
            for k in range(rng.randint(8, 10)):
                county = create_unit(code=f"{city.code}-{k:02d}", name=f"{city_name[:-1]}{COUNTY_SUFFIXES[k]}",
                                     parent=city, level=Unit.Level.COUNTY)
                person(county, Role.LEADER, "县长")
                person(county, Role.SUPERVISOR, "县优化办主任")
                for d, dept_name in enumerate(rng.sample(DEPARTMENTS, 3)):
                    dept = create_unit(code=f"{county.code}-D{d}", name=f"{county.name}{dept_name}", parent=county,
                                       level=Unit.Level.COUNTY, kind=Unit.Kind.DEPARTMENT)
                    person(dept, Role.OWNER, "副局长")
                for t in range(3):
                    town = create_unit(code=f"{county.code}-T{t}", name=f"{county.name}第{t + 1}街道",
                                       parent=county, level=Unit.Level.TOWNSHIP)
                    person(town, Role.OWNER, "街道办副主任")
                    for v in range(2):
                        create_unit(code=f"{town.code}-V{v}", name=f"{town.name}第{v + 1}社区", parent=town,
                                    level=Unit.Level.VILLAGE)
            for s, service in enumerate(SERVICES):
                ServiceItem.objects.create(name=service, competent_unit=city, time_limit_days=rng.choice([1, 5, 10, 20]),
                                           tags=[rng.choice(["high_frequency", "urgent", "key"])])
        created = User.objects.bulk_create([user for user, _ in pending_users], batch_size=1000)
        memberships = [User.groups.through(user_id=user.id, group_id=groups[role].id)
                       for user, (_, role) in zip(created, pending_users)]
        User.groups.through.objects.bulk_create(memberships, batch_size=1000)
        campaign = Campaign.objects.create(name=f"合成省走流程、解难题、优服务行动（种子{self.seed}）", unit=root,
                                           start_date=self.today - datetime.timedelta(days=400))
        campaign.must_walk_items.set(ServiceItem.objects.filter(competent_unit__path__startswith=root.path)[:26])
        return root

    # -- the ledger -----------------------------------------------------------------------------

    def _moment(self, day, hour=None):
        hour = self.rng.randint(8, 17) if hour is None else hour
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, self.rng.randint(0, 59))))

    def write_chunk(self, size):
        rng, today = self.rng, self.today
        walks = []
        for _ in range(max(1, size // 3)):
            county = rng.choice(self.counties)
            day = today - datetime.timedelta(days=rng.randint(0, 365))
            start = self._moment(day)
            leader = self.leaders_by_county[county[0]]
            walks.append(WalkSession(
                client_uuid=uuid.UUID(int=rng.getrandbits(128)), campaign=self.campaign, unit_id=county[0],
                service_item_id=rng.choice(self.service_items), leader_id=leader, created_by_id=leader,
                leader_rank=rng.choice(["top", "top", "leadership", "division"]),
                identity=rng.choice(WalkSession.Identity.values), way=rng.choice(WalkSession.Way.values),
                place="政务服务中心", started_at=start, ended_at=start + datetime.timedelta(hours=2),
                companion_count=rng.randint(0, 4), created_at=start,
            ))
        walks = WalkSession.objects.bulk_create(walks)

        problems = []
        for _ in range(size):
            category = rng.choice(Problem.Category.values)
            walk = rng.choice(walks) if rng.random() < 0.7 else None
            if walk is not None:
                unit_id, found, source = walk.unit_id, walk.started_at, Problem.Source.WALK
                service_id = walk.service_item_id
            else:
                unit_id = rng.choice(self.local_units)[0]
                found = self._moment(today - datetime.timedelta(days=rng.randint(0, 365)))
                source, service_id = rng.choice(SOURCES), rng.choice(self.service_items)
            on_spot = rng.random() < 0.15
            problems.append(Problem(
                walk=walk, campaign=self.campaign, unit_id=unit_id, service_item_id=service_id, source=source,
                category=category, subcategory_id=rng.choice(self.subcategories[category] + [None]),
                description=f"{rng.choice(SERVICES)}：{rng.choice(PHRASES[category])}（第{rng.randint(1, 999)}号）",
                responsible_unit_id=unit_id,
                resolution=Problem.Resolution.ON_SPOT if on_spot else Problem.Resolution.LEDGER,
                on_spot_action="现场协调，立行立改" if on_spot else "", found_at=found,
                created_by_id=walk.leader_id if walk else self.supervisor, created_at=found,
            ))
        problems = Problem.objects.bulk_create(problems)

        items = []
        for problem in problems:
            if problem.resolution == Problem.Resolution.ON_SPOT:
                continue
            for _ in range(2 if rng.random() < 0.1 else 1):
                items.append(self._item(problem))
        items = RectificationItem.objects.bulk_create(items)

        events, closures = [], []
        for item in items:
            events.append(ItemEvent(item=item, actor_id=item.owner_id, at=item.created_at,
                                    action=ItemEvent.Action.CREATED, to_status="open", note="列入整改台账"))
            if item.status in ("closure_requested", "closed", "returned"):
                closures.append(self._closure(item))
            if item.status == "closed":
                events.append(ItemEvent(item=item, actor_id=self.supervisor, at=item.closed_at,
                                        action=ItemEvent.Action.CLOSED, from_status="closure_requested",
                                        to_status="closed", note="同意销号"))
            elif item.status != "open":
                events.append(ItemEvent(item=item, actor_id=item.owner_id, at=item.updated_at,
                                        action=ItemEvent.Action.PROGRESS, from_status="open", to_status=item.status,
                                        note="已制定整改方案，按月调度推进"))
        ItemEvent.objects.bulk_create(events, batch_size=2000)
        ClosureRecord.objects.bulk_create(closures, batch_size=2000)

    def _item(self, problem):
        rng, today = self.rng, self.today
        status = rng.choices([s for s, _ in STATUS_WEIGHTS], weights=[w for _, w in STATUS_WEIGHTS])[0]
        opened = timezone.localtime(problem.found_at).date()
        deadline = opened + datetime.timedelta(days=rng.randint(5, 120))
        county = self.county_of.get(problem.unit_id)
        owner = rng.choice(self.owners_by_county[county])
        lead = rng.choice(self.departments_by_county.get(county) or [problem.unit_id])
        created = problem.found_at
        closed_at = None
        if status == "closed":
            span = max(1, min((today - opened).days, (deadline - opened).days + 30))
            closed_at = self._moment(opened + datetime.timedelta(days=rng.randint(1, span)))
            closed_at = min(closed_at, timezone.now())
        return RectificationItem(
            problem=problem, unit_id=problem.unit_id, measure=f"{rng.choice(MEASURES)}，{problem.description[:20]}",
            lead_unit_id=lead, owner_id=owner, kind=rng.choice(RectificationItem.Kind.values), status=status,
            opened_on=opened, deadline=deadline, closed_at=closed_at, created_at=created,
            updated_at=closed_at or created, version=1 if status == "open" else 3,
        )

    def _closure(self, item):
        rng = self.rng
        before = rng.randint(5, 60)
        decision = {"closed": "approved", "returned": "returned"}.get(item.status, "pending")
        reviewed_at = item.closed_at or (item.updated_at if decision != "pending" else None)
        return ClosureRecord(
            item=item, submitted_by_id=item.owner_id, submitted_at=(reviewed_at or item.updated_at),
            evidence="整改完成，附整改前后对比材料", time_limit_before=before,
            time_limit_after=max(1, before - rng.randint(0, before // 2)), materials_before=rng.randint(3, 8),
            materials_after=rng.randint(1, 3), steps_before=rng.randint(4, 7), steps_after=rng.randint(2, 4),
            trips_before=rng.randint(1, 3), trips_after=rng.randint(0, 1), decision=decision,
            reviewed_by_id=self.supervisor if decision != "pending" else None, reviewed_at=reviewed_at,
            reason="" if decision == "pending" else ("同意销号" if decision == "approved" else "佐证材料不全"),
        )
